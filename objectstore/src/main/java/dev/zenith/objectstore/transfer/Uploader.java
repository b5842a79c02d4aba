package dev.zenith.objectstore.transfer;

import static dev.zenith.objectstore.Futures.join;

import dev.zenith.objectstore.ObjectInfo;
import dev.zenith.objectstore.ObjectStore;
import dev.zenith.objectstore.PendingUpload;
import dev.zenith.objectstore.UploadedPart;
import dev.zenith.objectstore.format.ContentHash;
import dev.zenith.objectstore.format.Manifest;
import dev.zenith.objectstore.format.ObjectFrame;
import dev.zenith.objectstore.format.ObjectNames;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Semaphore;

/**
 * Uploads content as content-addressed blobs ({@link ObjectNames#blob}), off every event loop: each
 * object is hashed, compressed and sent on one of the uploader's own worker threads; parts go out
 * asynchronously, a bounded number at a time. Resumable: a blob already stored is not sent again
 * (HEAD before PUT, none for a blob {@linkplain #knownStored known} to be there nor for {@linkplain #uploadNew new} content), and an interrupted multipart upload of the same blob is continued, its parts
 * that the server already holds with the same MD5 skipped. Transient failures are retried with
 * backoff until the uploader is closed; progress is counted in {@link #progress()}.
 *
 * <p>The returned entry is for a manifest: write the manifest only after every upload it lists
 * has completed.
 */
public final class Uploader implements AutoCloseable {
    /**
     * Content up to this size is read once into memory, hashed and compressed from there and sent in one PUT (the
     * streamed path reads it twice and holds a part-sized buffer): most of a snapshot's objects are small files and
     * 1 MiB WAL pieces, and their number, not their bytes, is what takes the time.
     */
    static final int SMALL = 1 << 20;
    /**
     * Content up to this size (a whole WAL segment, a base piece) is also read once into memory: hashed once,
     * compressed only when that pays ({@link ObjectFrame#encodeAdaptive}) and sent in one PUT. Larger content is
     * streamed (read twice: once to hash it for the key, once to compress and send, in parts).
     */
    static final int WHOLE = 16 << 20;
    /** At most this many objects larger than {@link #SMALL} are handled at once (memory: a frame or a part buffer each). */
    static final int LARGE_AT_ONCE = 4;
    private final ObjectStore store;
    private final TransferSettings settings;
    private final TransferThreads threads;
    private final ExecutorService workers;
    private final ExecutorService background;
    private final Semaphore partPermits;
    private final TransferProgress progress;
    private final Retrier retrier;
    private final BlobPins pins;
    /** Objects streamed in parts at once: each holds a part buffer, so they stay few however many small ones run. */
    private final Semaphore largePermits;
    /** Stored lengths of blobs the server is known to hold (listed by published manifests): neither asked for nor sent. */
    private final Map<String, Long> known = new java.util.concurrent.ConcurrentHashMap<>();

    public Uploader(ObjectStore store, TransferSettings settings) {
        this(store, settings, null);
    }

    /**
     * An uploader whose blobs GC leaves alone until a manifest lists them: each key is
     * {@linkplain BlobPins#pin pinned} before its HEAD and stays pinned after the upload succeeds,
     * until whoever writes the manifest releases it ({@code ManifestWriter} does); a failed upload
     * releases its pin. {@code pins} null: no pinning (nothing collects this prefix while it runs).
     */
    public Uploader(ObjectStore store, TransferSettings settings, BlobPins pins) {
        this.store = store;
        this.pins = pins;
        this.settings = settings;
        this.threads = new TransferThreads("zenith-upload", settings);
        this.workers = threads.workers;
        this.background = threads.background;
        this.progress = threads.progress;
        this.retrier = threads.retrier;
        this.partPermits = new Semaphore(settings.partsInFlight());
        this.largePermits = new Semaphore(Math.min(settings.parallelObjects(), LARGE_AT_ONCE));
    }

    public TransferProgress progress() {
        return progress;
    }

    /**
     * Blobs the server holds for sure, e.g. those a published manifest lists (GC never deletes a listed blob): content
     * hashing to one of them is not asked for (no HEAD) nor sent. A push of a later snapshot of the same history is
     * mostly such content.
     */
    public void knownStored(java.util.Collection<Manifest.Entry> entries) {
        entries.forEach(e -> known.put(e.key(), e.storedLength()));
    }

    /**
     * A blob a published manifest lists, taken as it is (its entry, its labels) without reading or asking for its
     * content: counted as done and skipped, as an upload of content the server holds is.
     */
    public Manifest.Entry reuse(Manifest.Entry listed) {
        progress.finished(progress.started(listed.contentLength()), listed.contentLength(), true);
        return listed;
    }

    /** The stored length of {@code key} when the server holds it whole: known, else asked (HEAD). */
    private Optional<Long> stored(String key) {
        Long length = known.get(key);
        if (length != null) {
            return Optional.of(length);
        }
        return join(retrier.run(() -> store.head(key))).map(ObjectInfo::size).filter(n -> n >= ObjectFrame.HEADER_LENGTH);
    }

    /** Stores {@code content} as a blob; completes with its manifest entry once the server holds it whole. */
    public CompletableFuture<Manifest.Entry> upload(Content content, Map<String, String> labels) {
        return upload(content, labels, true, workers);
    }

    /**
     * As {@link #upload(Content, Map)}, hashed and compressed on the background threads ({@link
     * TransferSettings#backgroundStart}): for uploads nobody waits for soon, such as an s3 storage's bases.
     */
    public CompletableFuture<Manifest.Entry> uploadInBackground(Content content, Map<String, String> labels) {
        return upload(content, labels, true, background);
    }

    /**
     * As {@link #upload(Content, Map)} for content the server is not expected to hold (the next WAL piece of a timeline:
     * never uploaded whole before): up to {@link #WHOLE} bytes it is sent without asking first (no HEAD; should it be
     * there after all, a round retried after a crash, the PUT writes the same bytes under the same key again); larger
     * content goes in parts as {@link #upload(Content, Map)} sends it (resumable, so asked for first).
     */
    public CompletableFuture<Manifest.Entry> uploadNew(Content content, Map<String, String> labels) {
        return upload(content, labels, false, workers);
    }

    private CompletableFuture<Manifest.Entry> upload(Content content, Map<String, String> labels, boolean ask,
                                                     ExecutorService on) {
        long id = progress.started(content.length());
        CompletableFuture<Manifest.Entry> f = CompletableFuture.supplyAsync(() -> uploadNow(id, content, labels, ask), on);
        f.whenComplete((v, e) -> {
            if (e != null) {
                progress.abandoned(id, content.length());
            }
        });
        return f;
    }

    private Manifest.Entry uploadNow(long id, Content content, Map<String, String> labels, boolean ask) {
        if (content.length() <= SMALL) {
            return uploadWhole(id, content, labels, ask);
        }
        largePermits.acquireUninterruptibly();
        try {
            return content.length() <= WHOLE ? uploadWhole(id, content, labels, ask) : uploadLarge(id, content, labels);
        } finally {
            largePermits.release();
        }
    }

    /**
     * Read once (a file's content held already: hashed streaming only): hashed, framed in memory (compressed when that
     * pays) and sent in one PUT whatever its size, unless the
     * server holds the blob already: two requests per object (HEAD, PUT) instead of six (HEAD, a listing of pending
     * uploads, create, parts, complete); what a multipart upload would save on a retry is small at these sizes.
     */
    private Manifest.Entry uploadWhole(long id, Content content, Map<String, String> labels, boolean ask) {
        // Content not in memory yet (a base's piece of a file) is hashed streaming first: most of a base's pieces are
        // held already, and for those no array of the piece's size is allocated (zeroed) and filled.
        boolean hashFirst = ask && content.length() > SMALL && !content.inMemory();
        byte[] bytes = hashFirst ? null : readAll(content);
        ContentHash hash = hashFirst ? hashStreamed(content) : ContentHash.ofContent(bytes, 0, bytes.length);
        String key = ObjectNames.blob(hash);
        if (pins != null) {
            pins.pin(key); // before the HEAD: GC cannot delete what the HEAD finds
        }
        try {
            Optional<Long> there = ask ? stored(key) : Optional.ofNullable(known.get(key));
            long stored;
            boolean already = there.isPresent();
            if (already) {
                stored = there.get();
            } else {
                if (bytes == null) {
                    bytes = readAll(content);
                    if (!hash.equals(ContentHash.ofContent(bytes, 0, bytes.length))) {
                        throw new UncheckedIOException(new IOException(
                                "content changed while it was being stored (its SHA-256 differs from the first read)"));
                    }
                }
                ObjectFrame.Built built = ObjectFrame.encodeAdaptive(bytes, 0, bytes.length, hash, settings.level());
                byte[] frame = built.length() == built.buffer().length ? built.buffer()
                        : java.util.Arrays.copyOf(built.buffer(), built.length());
                join(retrier.run(() -> store.put(key, frame)));
                progress.sent(frame.length);
                stored = frame.length;
            }
            progress.finished(id, content.length(), already);
            return new Manifest.Entry(key, hash, content.length(), stored, labels);
        } catch (RuntimeException e) {
            if (pins != null) {
                pins.release(key);
            }
            throw e;
        }
    }

    private static ContentHash hashStreamed(Content content) {
        try {
            return hash(content);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static byte[] readAll(Content content) {
        try {
            return content.readAll();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private Manifest.Entry uploadLarge(long id, Content content, Map<String, String> labels) {
        try {
            ContentHash hash = hash(content);
            String key = ObjectNames.blob(hash);
            if (pins != null) {
                pins.pin(key); // before the HEAD: GC cannot delete what the HEAD finds
            }
            try {
                Stored stored = store(key, hash, content);
                progress.finished(id, content.length(), stored.alreadyThere());
                return new Manifest.Entry(key, hash, content.length(), stored.length(), labels);
            } catch (IOException | RuntimeException e) {
                if (pins != null) {
                    pins.release(key);
                }
                throw e;
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private record Stored(long length, boolean alreadyThere) {
    }

    /** Sends the blob unless the server holds it already. */
    private Stored store(String key, ContentHash hash, Content content) throws IOException {
        Optional<Long> there = stored(key);
        if (there.isPresent()) {
            return new Stored(there.get(), true);
        }
        PartSink sink = new PartSink(key);
        try (InputStream in = content.open()) {
            ObjectFrame.encode(in, content.length(), hash, sink, settings.level());
        }
        return new Stored(sink.finish(), false);
    }

    private static ContentHash hash(Content content) throws IOException {
        MessageDigest d = ContentHash.newDigest();
        byte[] buf = new byte[1 << 16];
        try (InputStream in = content.open()) {
            int n;
            while ((n = in.read(buf)) > 0) {
                d.update(buf, 0, n);
            }
        }
        return ContentHash.of(d.digest());
    }

    /**
     * Cuts the frame into parts: one PUT when it fits one part, else a multipart upload started (or
     * resumed) when the first part is full.
     */
    private final class PartSink extends OutputStream {
        private final String key;
        /** Streamed frames are gathered here a part at a time (allocated on the first write). */
        private byte[] buffer;
        private int filled;
        private String uploadId;
        private Map<Integer, UploadedPart> alreadyThere = Map.of();
        private final List<CompletableFuture<String>> parts = new ArrayList<>();
        private long total;

        PartSink(String key) {
            this.key = key;
        }

        @Override
        public void write(int b) {
            write(new byte[]{(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) {
            if (buffer == null) {
                buffer = new byte[settings.partSize()];
            }
            while (len > 0) {
                if (filled == buffer.length) {
                    sendPart(buffer, 0, filled);
                    buffer = new byte[settings.partSize()];
                    filled = 0;
                }
                int n = Math.min(len, buffer.length - filled);
                System.arraycopy(b, off, buffer, filled, n);
                filled += n;
                off += n;
                len -= n;
            }
        }

        long finish() {
            if (uploadId == null) {
                byte[] whole = buffer == null ? new byte[0]
                        : filled == buffer.length ? buffer : java.util.Arrays.copyOf(buffer, filled);
                join(retrier.run(() -> store.put(key, whole)));
                progress.sent(whole.length);
                return whole.length;
            }
            if (filled > 0) {
                sendPart(buffer, 0, filled);
            }
            List<String> etags = new ArrayList<>();
            for (CompletableFuture<String> p : parts) {
                etags.add(join(p));
            }
            join(retrier.run(() -> store.completeMultipart(key, uploadId, etags)));
            return total;
        }

        /** Sends {@code bytes[offset, offset + length)} as the next part; the caller no longer changes those bytes. */
        private void sendPart(byte[] bytes, int offset, int length) {
            if (uploadId == null) {
                startOrResume();
            }
            int number = parts.size() + 1;
            total += length;
            UploadedPart held = alreadyThere.get(number);
            if (held != null && held.size() == length
                    && held.etag().equalsIgnoreCase(UploadedPart.md5Etag(bytes, offset, length))) {
                parts.add(CompletableFuture.completedFuture(held.etag()));
                return;
            }
            partPermits.acquireUninterruptibly();
            CompletableFuture<String> f = retrier.run(() -> store.uploadPart(key, uploadId, number, bytes, offset, length));
            f.whenComplete((v, e) -> {
                partPermits.release();
                if (e == null) {
                    progress.sent(length);
                }
            });
            parts.add(f);
        }

        private void startOrResume() {
            Optional<PendingUpload> earlier = join(retrier.run(() -> store.pendingUploads(key))).stream()
                    .filter(u -> u.key().equals(key))
                    .max(Comparator.comparing(PendingUpload::initiated));
            if (earlier.isPresent()) {
                uploadId = earlier.get().uploadId();
                Map<Integer, UploadedPart> held = new HashMap<>();
                for (UploadedPart p : join(retrier.run(() -> store.listParts(key, uploadId)))) {
                    held.put(p.partNumber(), p);
                }
                alreadyThere = held;
            } else {
                uploadId = join(retrier.run(() -> store.startMultipart(key)));
            }
        }
    }


    /** Stops retrying and the workers; uploads in progress fail. The store stays open (it is the caller's). */
    @Override
    public void close() {
        threads.close();
    }
}
