using System.Runtime.InteropServices;

namespace CultureMert.Distributed;

/// <summary>The collectives data-parallel pre-training needs: rank, size, sum all-reduce, broadcast, barrier.</summary>
public interface ICommunicator
{
    int Rank { get; }
    int Size { get; }
    void AllReduceSum(Span<float> buffer);
    void AllReduceSum(Span<double> buffer);
    void Broadcast(Span<float> buffer, int root);
    void Barrier();
}

/// <summary>
/// MPI_COMM_WORLD of Open MPI (libmpi.so.40) through P/Invoke: just what <see cref="ICommunicator"/> needs, plus abort.
/// </summary>
/// <remarks>
/// Open MPI's ABI (mpi.h of Open MPI 4/5): handles are pointers, and the predefined ones are the addresses of exported
/// structs — MPI_COMM_WORLD = &amp;ompi_mpi_comm_world, MPI_FLOAT = &amp;ompi_mpi_float, MPI_DOUBLE = &amp;ompi_mpi_double,
/// MPI_SUM = &amp;ompi_mpi_op_sum — and MPI_IN_PLACE is <c>(void*)1</c>. MPICH's ABI (integer handles) is not supported.
/// The library is opened with RTLD_GLOBAL, as mpi4py does: Open MPI's plugins (mca_*.so) resolve their symbols against
/// it, and a local dlopen (what <see cref="NativeLibrary.Load(string)"/> does) leaves them unresolved.
/// Errors use MPI's default handler, MPI_ERRORS_ARE_FATAL: a failed collective aborts the whole job. Open MPI installs
/// no signal handler where one exists at MPI_Init, so .NET's (NullReferenceException from SIGSEGV) keep working.
/// </remarks>
public sealed unsafe class MpiWorld : ICommunicator, IDisposable
{
    private const int ThreadSerialized = 2;                                  // MPI_THREAD_SERIALIZED
    private const int RtldNow = 0x2, RtldGlobal = 0x100;

    private readonly nint comm, mpiFloat, mpiDouble, opSum;
    private readonly delegate* unmanaged<nint, nint, int, nint, nint, nint, int> allreduce;
    private readonly delegate* unmanaged<nint, int, nint, int, nint, int> bcast;
    private readonly delegate* unmanaged<nint, int> barrier;
    private readonly delegate* unmanaged<nint, int, int> abort;
    private readonly delegate* unmanaged<int> finalize;
    private bool finalized;

    public int Rank { get; }
    public int Size { get; }

    [DllImport("libc.so.6", EntryPoint = "dlopen")]
    private static extern nint DlOpen([MarshalAs(UnmanagedType.LPStr)] string file, int mode);

    [DllImport("libc.so.6", EntryPoint = "dlerror")]
    private static extern nint DlError();

    /// <summary>Opens libmpi and calls MPI_Init_thread (serialized: only one thread calls MPI at a time).</summary>
    /// <param name="library">libmpi.so.40 (Open MPI 3–5)</param>
    public MpiWorld(string library = "libmpi.so.40")
    {
        var lib = DlOpen(library, RtldNow | RtldGlobal);
        if (lib == 0)
            throw new DllNotFoundException($"{library}: cannot load Open MPI ({Marshal.PtrToStringAnsi(DlError())}); on Debian/Ubuntu: apt-get install openmpi-bin (or culturemert setup mpi).");
        nint Sym(string name) => NativeLibrary.GetExport(lib, name);
        (comm, mpiFloat, mpiDouble, opSum) = (Sym("ompi_mpi_comm_world"), Sym("ompi_mpi_float"), Sym("ompi_mpi_double"), Sym("ompi_mpi_op_sum"));
        allreduce = (delegate* unmanaged<nint, nint, int, nint, nint, nint, int>)Sym("MPI_Allreduce");
        bcast = (delegate* unmanaged<nint, int, nint, int, nint, int>)Sym("MPI_Bcast");
        barrier = (delegate* unmanaged<nint, int>)Sym("MPI_Barrier");
        abort = (delegate* unmanaged<nint, int, int>)Sym("MPI_Abort");
        finalize = (delegate* unmanaged<int>)Sym("MPI_Finalize");
        var initThread = (delegate* unmanaged<nint, nint, int, int*, int>)Sym("MPI_Init_thread");
        var commRank = (delegate* unmanaged<nint, int*, int>)Sym("MPI_Comm_rank");
        var commSize = (delegate* unmanaged<nint, int*, int>)Sym("MPI_Comm_size");
        int provided, rank, size;
        Check(initThread(0, 0, ThreadSerialized, &provided), "MPI_Init_thread");
        if (provided < ThreadSerialized)
            throw new NotSupportedException($"{library}: MPI_Init_thread provided thread level {provided}, this program needs MPI_THREAD_SERIALIZED ({ThreadSerialized}).");
        Check(commRank(comm, &rank), "MPI_Comm_rank");
        Check(commSize(comm, &size), "MPI_Comm_size");
        (Rank, Size) = (rank, size);
    }

    /// <summary>
    /// The world size a launcher announces in the environment (mpirun/mpiexec of Open MPI, a PMI launcher such as
    /// MPICH's Hydra or Slurm's srun), or null when this process was not started by one.
    /// </summary>
    public static int? LauncherWorldSize(Func<string, string?> env)
    {
        foreach (var name in new[] { "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS" })
            if (int.TryParse(env(name), out var n) && n >= 1) return n;
        return null;
    }

    /// <summary>Ranks of this job on this machine (to share the cores between them), 1 when unknown.</summary>
    public static int LocalSize(Func<string, string?> env)
    {
        foreach (var name in new[] { "OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_STEP_TASKS_PER_NODE" })
            if (int.TryParse(env(name)?.Split('(', ',')[0], out var n) && n >= 1) return n;
        return 1;
    }

    public void AllReduceSum(Span<float> buffer)
    {
        fixed (float* p = buffer)
            Check(allreduce(1, (nint)p, buffer.Length, mpiFloat, opSum, comm), "MPI_Allreduce");   // 1: MPI_IN_PLACE
    }

    public void AllReduceSum(Span<double> buffer)
    {
        fixed (double* p = buffer)
            Check(allreduce(1, (nint)p, buffer.Length, mpiDouble, opSum, comm), "MPI_Allreduce");
    }

    public void Broadcast(Span<float> buffer, int root)
    {
        fixed (float* p = buffer)
            Check(bcast((nint)p, buffer.Length, mpiFloat, root, comm), "MPI_Bcast");
    }

    public void Barrier() => Check(barrier(comm), "MPI_Barrier");

    /// <summary>Prints <paramref name="message"/> on stderr and ends every rank of the job (MPI_Abort); does not return.</summary>
    public void Abort(string message, int code = 1)
    {
        Console.Error.WriteLine(message);
        Console.Error.Flush();
        abort(comm, code);
        Environment.Exit(code);                                              // MPI_Abort does not return; in case it does
    }

    public void Dispose()
    {
        if (finalized) return;
        finalized = true;
        Check(finalize(), "MPI_Finalize");
    }

    private void Check(int code, string call)
    {
        if (code != 0) throw new IOException($"rank {Rank}: {call} failed with MPI error {code}.");
    }
}
