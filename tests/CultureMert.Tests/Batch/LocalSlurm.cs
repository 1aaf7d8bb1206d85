using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace CultureMert.Tests.Batch;

/// <summary>
/// A one-machine Slurm cluster for the tests: munged, slurmctld and slurmd of Debian's packages (test.sh installs
/// them), each in the foreground under a temporary folder with a generated <c>slurm.conf</c> and munge key, on free
/// ports; nothing under /etc is read or changed. Started once per test class and stopped after it. Where the daemons
/// cannot start (packages missing, not root, no node ready in 60 s), <see cref="SkipReason"/> says why.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class LocalSlurm : IDisposable
{
    readonly List<Process> daemons = [];
    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "cm-slurm-" + Guid.NewGuid().ToString("N")[..8]);
    public string Conf => Path.Combine(Dir, "slurm.conf");
    /// <summary>Null when the cluster is up.</summary>
    public string? SkipReason { get; }

    public LocalSlurm()
    {
        var missing = new[] { "munged", "slurmctld", "slurmd", "sbatch", "sinfo" }.Where(b => CultureMert.Setup.SystemPackages.Which(b) is null).ToList();
        if (missing.Count > 0) { SkipReason = $"Slurm is not installed ({string.Join(", ", missing)} missing; ./test.sh installs slurmctld, slurmd, slurm-client and munge as root)."; return; }
        if (Environment.UserName != "root") { SkipReason = $"slurmd runs jobs as their user and must be started as root; these tests run as {Environment.UserName}."; return; }
        try { SkipReason = Start(); }
        catch (Exception e) when (e is IOException or System.ComponentModel.Win32Exception or InvalidOperationException) { SkipReason = $"the Slurm daemons could not start: {e.Message}"; }
    }

    string? Start()
    {
        Directory.CreateDirectory(Path.Combine(Dir, "state"));
        Directory.CreateDirectory(Path.Combine(Dir, "spool"));
        var key = Path.Combine(Dir, "munge.key");
        File.WriteAllBytes(key, System.Security.Cryptography.RandomNumberGenerator.GetBytes(1024));
        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite);                  // munged refuses a readable key
        File.SetUnixFileMode(Dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var socket = Path.Combine(Dir, "munge.sock");
        Daemon("munged", "-F", "--force", $"--socket={socket}", $"--key-file={key}", $"--pid-file={Dir}/munged.pid",
               $"--log-file={Dir}/munged.log", $"--seed-file={Dir}/munge.seed");
        for (var i = 0; i < 100 && !File.Exists(socket); i++) Thread.Sleep(50);

        var host = Dns.GetHostName().Split('.')[0];                                             // slurmctld must run on SlurmctldHost
        File.WriteAllText(Conf, $"""
            ClusterName=culturemert-test
            SlurmctldHost={host}(127.0.0.1)
            SlurmUser=root
            SlurmdUser=root
            AuthType=auth/munge
            AuthInfo=socket={socket}
            CredType=cred/munge
            SlurmctldPort={FreePort()}
            SlurmdPort={FreePort()}
            StateSaveLocation={Dir}/state
            SlurmdSpoolDir={Dir}/spool
            SlurmctldPidFile={Dir}/slurmctld.pid
            SlurmdPidFile={Dir}/slurmd.pid
            SlurmctldLogFile={Dir}/slurmctld.log
            SlurmdLogFile={Dir}/slurmd.log
            ProctrackType=proctrack/linuxproc
            TaskPlugin=task/none
            JobAcctGatherType=jobacct_gather/none
            AccountingStorageType=accounting_storage/none
            SelectType=select/cons_tres
            SelectTypeParameters=CR_Core
            MpiDefault=none
            ReturnToService=2
            NodeName={host} NodeAddr=127.0.0.1 CPUs={Environment.ProcessorCount} RealMemory=1024 State=UNKNOWN
            PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
            """);
        Daemon("slurmctld", "-D", "-c", "-f", Conf);
        Daemon("slurmd", "-D", "-f", Conf);
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (Run("sinfo", "-h", "-o", "%T").Output.Trim() == "idle") return null;
            if (daemons.FirstOrDefault(d => d.HasExited) is { } dead) break;
            Thread.Sleep(250);
        }
        return $"the Slurm daemons did not bring a node up within 60 s: {Logs()}";
    }

    void Daemon(string name, params string[] args)
    {
        var start = new ProcessStartInfo(name) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["SLURM_CONF"] = Conf;
        var p = Process.Start(start)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        daemons.Add(p);
    }

    static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>A Slurm client command (sbatch, sinfo, ...) against this cluster: exit code and stdout + stderr.</summary>
    public (int Code, string Output) Run(string command, params string[] args)
    {
        var start = new ProcessStartInfo(command) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["SLURM_CONF"] = Conf;
        using var p = Process.Start(start)!;
        var (o, e) = (p.StandardOutput.ReadToEndAsync(), p.StandardError.ReadToEndAsync());
        if (!p.WaitForExit(TimeSpan.FromMinutes(5))) { p.Kill(entireProcessTree: true); return (-1, $"{command} did not finish in 5 min\n{o.Result}{e.Result}\n{Logs()}"); }
        return (p.ExitCode, o.Result + e.Result);
    }

    /// <summary>The tail of each daemon's log, for a failure message.</summary>
    public string Logs()
    {
        var sb = new StringBuilder();
        foreach (var log in new[] { "munged.log", "slurmctld.log", "slurmd.log" }.Select(f => Path.Combine(Dir, f)).Where(File.Exists))
            sb.Append($"\n--- {Path.GetFileName(log)}\n").AppendJoin('\n', File.ReadLines(log).TakeLast(15));
        return sb.ToString();
    }

    public void Dispose()
    {
        foreach (var d in Enumerable.Reverse(daemons))
        {
            try { if (!d.HasExited) { d.Kill(entireProcessTree: true); d.WaitForExit(10_000); } }
            catch (InvalidOperationException) { }
            d.Dispose();
        }
        try { Directory.Delete(Dir, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
