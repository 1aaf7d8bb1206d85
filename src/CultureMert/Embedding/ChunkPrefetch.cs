using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using CultureMert.Audio;

namespace CultureMert.Embedding;

/// <summary>
/// One file decoded, mixed to mono and resampled on its own thread into fixed-size chunks, at most
/// <c>ahead</c> chunks in front of the consumer: the model never waits for the decoder unless decoding is slower than
/// the model, and memory is bounded whatever the file's length. Failures (a missing file, a corrupt stream) are kept
/// and thrown to the consumer, as they would have been thrown by a decoder on its own thread.
/// No tensor crosses threads (TorchSharp's dispose scopes are per thread): the decoder hands over managed float[] buffers
/// rented from the pool, and the consumer returns them once the model has read them.
/// </summary>
public sealed class ChunkPrefetch : IDisposable
{
    /// <summary>A chunk: the first <see cref="Length"/> samples of <see cref="Samples"/> (all but the last chunk are full).</summary>
    /// <param name="Peak">max |sample| of the chunk, computed here so the model's thread does not scan the audio</param>
    public readonly record struct Chunk(float[] Samples, int Length, float Peak);

    /// <summary>What the decoder knows of the source once it is open.</summary>
    public sealed record SourceInfo(int SourceRate, int SourceChannels, double? DurationSeconds);

    /// <summary>Chunk buffers shared by the prefetches of one embedder, so a long batch makes no garbage per chunk.</summary>
    public sealed class BufferPool(int chunkSamples)
    {
        readonly ConcurrentBag<float[]> free = [];
        public float[] Rent() => free.TryTake(out var b) ? b : new float[chunkSamples];
        public void Return(float[] buffer) { if (buffer.Length == chunkSamples) free.Add(buffer); }
    }

    readonly BlockingCollection<Chunk> ready;
    readonly CancellationTokenSource stop = new();
    readonly BufferPool pool;
    readonly Task decoder;
    SourceInfo? info;
    Exception? error;

    public string Path { get; }

    public ChunkPrefetch(string path, int targetRate, int chunkSamples, int ahead, BufferPool pool)
        : this(path, () => MonoAudioStream.Open(path, targetRate), chunkSamples, ahead, pool) { }

    /// <param name="name">what messages call the source</param>
    /// <param name="open">opens the mono stream at the model's rate (on the decoder's thread)</param>
    public ChunkPrefetch(string name, Func<MonoAudioStream> open, int chunkSamples, int ahead, BufferPool pool)
    {
        Path = name;
        this.pool = pool;
        ready = new BlockingCollection<Chunk>(Math.Max(1, ahead));
        decoder = Task.Factory.StartNew(() => Decode(open, chunkSamples), TaskCreationOptions.LongRunning);
    }

    /// <summary>Rate, channels and length of the source; valid once a chunk has been read or the chunks have ended.</summary>
    public SourceInfo Info => info ?? throw (error is null ? new InvalidOperationException("the source is not open yet") : Rethrow());

    /// <summary>The chunks in order; the last may be shorter; throws what decoding threw, after the chunks before it.</summary>
    public IEnumerable<Chunk> Chunks(CancellationToken cancel)
    {
        foreach (var chunk in ready.GetConsumingEnumerable(cancel)) yield return chunk;
        if (error is not null) throw Rethrow();
    }

    void Decode(Func<MonoAudioStream> open, int chunkSamples)
    {
        try
        {
            using var stream = open();
            info = new SourceInfo(stream.SourceRate, stream.SourceChannels, stream.DurationSeconds);
            var scratch = new float[1 << 15];
            int scratchPos = 0, scratchLen = 0;
            while (true)
            {
                // Fill one chunk from the stream, keeping what overflows for the next.
                var chunk = pool.Rent();
                var filled = 0;
                while (filled < chunkSamples)
                {
                    if (scratchPos == scratchLen)
                    {
                        stop.Token.ThrowIfCancellationRequested();
                        (scratchPos, scratchLen) = (0, stream.Read(scratch));
                        if (scratchLen == 0) break;
                    }
                    var n = Math.Min(chunkSamples - filled, scratchLen - scratchPos);
                    Array.Copy(scratch, scratchPos, chunk, filled, n);
                    (filled, scratchPos) = (filled + n, scratchPos + n);
                }
                if (filled == 0) { pool.Return(chunk); break; }
                ready.Add(new Chunk(chunk, filled, Embedder.MaxAbs(chunk.AsSpan(0, filled))), stop.Token);
                if (filled < chunkSamples) break;
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested) { }
        catch (Exception e) { error = e; }
        finally { ready.CompleteAdding(); }
    }

    Exception Rethrow()
    {
        ExceptionDispatchInfo.Capture(error!).Throw();
        return error!;                                    // not reached
    }

    /// <summary>Stops the decoder (closing the file) and gives the unread chunks' buffers back.</summary>
    public void Dispose()
    {
        stop.Cancel();
        try { decoder.Wait(); } catch (AggregateException) { }
        while (ready.TryTake(out var chunk)) pool.Return(chunk.Samples);
        ready.Dispose();
        stop.Dispose();
    }
}
