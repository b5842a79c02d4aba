package dev.zenith.objectstore.file;

import dev.zenith.objectstore.FileSync;
import dev.zenith.objectstore.ObjectInfo;
import dev.zenith.objectstore.ObjectStore;
import dev.zenith.objectstore.ObjectStoreException;
import dev.zenith.objectstore.ObjectStoreException.Kind;
import dev.zenith.objectstore.PendingUpload;
import dev.zenith.objectstore.StoredBytes;
import dev.zenith.objectstore.UploadedPart;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;

/**
 * {@link ObjectStore} over a directory ({@code file:///dir}): a remote that is a shared directory
 * (a NAS, a mounted volume) which any number of daemons, in this process or others, use at once.
 * A key is the file {@code dir/key}; names starting with a dot are this store's own.
 *
 * <ul>
 *   <li>put: the bytes go to a temporary file in {@code dir/.zenith-tmp}, are synced, then renamed
 *       over the key (and the directory synced): a reader sees the old object or the new one whole.</li>
 *   <li>put-if-absent: the synced temporary file is hard-linked to the key; {@code link(2)} fails
 *       when the key exists, atomically, so exactly one of racing writers wins (unlike S3Proxy,
 *       this store honours the condition).</li>
 *   <li>put-if-match: under an exclusive lock of the key (a {@code dir/.zenith-locks} file with
 *       {@code fcntl} locks across processes, and a lock within this process), compare the ETag
 *       and rename over. The ETag is the file's identity (inode), size and modification time, so a
 *       rename of new contents changes it.</li>
 *   <li>multipart: {@link FileUploads}.</li>
 * </ul>
 *
 * Every call runs on this store's own threads, never the caller's.
 */
public final class FileObjectStore implements ObjectStore {
    static final String TMP = ".zenith-tmp";
    private static final String LOCKS = ".zenith-locks";
    /** Within one JVM, fcntl locks do not exclude each other's threads: these do (shared by every store of a directory). */
    private static final ConcurrentHashMap<Path, ReentrantLock> LOCAL_LOCKS = new ConcurrentHashMap<>();

    private final Path root;
    private final ExecutorService io;
    private final FileUploads uploads;

    private FileObjectStore(Path root, int threads) {
        this.root = root;
        this.uploads = new FileUploads(this, root);
        AtomicInteger n = new AtomicInteger();
        this.io = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "zenith-file-store-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    /** The store over {@code dir} (which must exist when it is used; it is not created). */
    public static FileObjectStore open(Path dir) {
        return new FileObjectStore(dir.toAbsolutePath().normalize(), 8);
    }

    /** Parses {@code file:///dir} (or {@code file://localhost/dir}); a clear IllegalArgumentException otherwise. */
    public static Path parseUrl(String url) {
        URI uri;
        try {
            uri = new URI(url);
        } catch (URISyntaxException | NullPointerException e) {
            throw new IllegalArgumentException("not a file:// URL: '" + url + "'");
        }
        if (!"file".equals(uri.getScheme()) || uri.getPath() == null || !uri.getPath().startsWith("/")
                || (uri.getHost() != null && !uri.getHost().isEmpty() && !uri.getHost().equals("localhost"))
                || uri.getQuery() != null || uri.getFragment() != null) {
            throw new IllegalArgumentException("not a file:// URL of a local directory: '" + url
                    + "' (expected file:///absolute/path)");
        }
        return Path.of(uri.getPath()).normalize();
    }

    @Override
    public String describe() {
        return "file://" + root;
    }

    @Override
    public CompletableFuture<Void> put(String key, byte[] bytes) {
        return run("put " + key, () -> viaTemp(key, bytes, (tmp, target) -> {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE); // rename(2): replaces whole
            FileSync.syncDirectory(target.getParent());
            return null;
        }));
    }

    @Override
    public CompletableFuture<Boolean> putIfAbsent(String key, byte[] bytes) {
        return run("put-if-absent " + key, () -> viaTemp(key, bytes, (tmp, target) -> {
            try {
                Files.createLink(target, tmp); // link(2) fails if the key exists: the one atomic "create only"
            } catch (FileAlreadyExistsException e) {
                return false;
            }
            FileSync.syncDirectory(target.getParent());
            return true;
        }));
    }

    @Override
    public CompletableFuture<Boolean> putIfMatch(String key, byte[] bytes, String etag) {
        return run("put-if-match " + key, () -> viaTemp(key, bytes, (tmp, target) -> underLock(key, () -> {
            Optional<ObjectInfo> now = info(key, target);
            if (now.isEmpty() || !now.get().etag().equals(etag)) {
                return false;
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            FileSync.syncDirectory(target.getParent());
            return true;
        })));
    }

    private interface Placement<T> {
        T place(Path tmp, Path target) throws IOException;
    }

    /** Writes {@code bytes} to a synced temporary file, lets {@code placement} put it at the key's file, cleans up. */
    private <T> T viaTemp(String key, byte[] bytes, Placement<T> placement) throws IOException {
        Path target = file(key);
        Path tmp = writeTemp(bytes, 0, bytes.length);
        try {
            Files.createDirectories(target.getParent());
            return placement.place(tmp, target);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    @Override
    public CompletableFuture<Optional<StoredBytes>> get(String key) {
        return run("get " + key, () -> {
            Path f = file(key);
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
                ObjectInfo info = info(key, f).orElseThrow(() -> new NoSuchFileException(key));
                long size = ch.size();
                if (size > Integer.MAX_VALUE - 16) {
                    throw new ObjectStoreException(Kind.REFUSED, "get " + key + " at " + describe()
                            + ": " + size + " bytes do not fit in memory (read it by ranges)");
                }
                byte[] bytes = new byte[(int) size];
                readFully(ch, ByteBuffer.wrap(bytes), 0);
                return Optional.of(new StoredBytes(info, bytes));
            } catch (NoSuchFileException e) {
                return Optional.empty();
            }
        });
    }

    @Override
    public CompletableFuture<Optional<StoredBytes>> getRange(String key, long offset, int length) {
        if (offset < 0 || length < 1) {
            throw new IllegalArgumentException("a range starts at 0 or later and has at least one byte");
        }
        return run("get " + key + " from byte " + offset, () -> {
            Path f = file(key);
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
                ObjectInfo info = info(key, f).orElseThrow(() -> new NoSuchFileException(key));
                long size = ch.size();
                if (offset >= size) {
                    throw new ObjectStoreException(Kind.REFUSED, "get " + key + " at " + describe() + ": byte " + offset
                            + " is beyond its end (" + size + " bytes)");
                }
                byte[] bytes = new byte[(int) Math.min(length, size - offset)];
                readFully(ch, ByteBuffer.wrap(bytes), offset);
                return Optional.of(new StoredBytes(info, bytes));
            } catch (NoSuchFileException e) {
                return Optional.empty();
            }
        });
    }

    @Override
    public CompletableFuture<Optional<ObjectInfo>> head(String key) {
        return run("head " + key, () -> info(key, file(key)));
    }

    @Override
    public CompletableFuture<List<ObjectInfo>> list(String keyPrefix) {
        return run("list " + keyPrefix, () -> {
            int slash = keyPrefix.lastIndexOf('/');
            Path base = slash < 0 ? root : root.resolve(keyPrefix.substring(0, slash));
            List<ObjectInfo> out = new ArrayList<>();
            if (!Files.isDirectory(base)) {
                return out;
            }
            Files.walkFileTree(base, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
                    return dir.getFileName().toString().startsWith(".") && !dir.equals(base)
                            ? FileVisitResult.SKIP_SUBTREE : FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFile(Path f, BasicFileAttributes attrs) {
                    String key = keyOf(f);
                    if (attrs.isRegularFile() && !f.getFileName().toString().startsWith(".") && key.startsWith(keyPrefix)) {
                        out.add(new ObjectInfo(key, attrs.size(), etag(attrs), attrs.lastModifiedTime().toInstant()));
                    }
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFileFailed(Path f, IOException e) throws IOException {
                    if (e instanceof NoSuchFileException) {
                        return FileVisitResult.CONTINUE; // deleted while we walked: not listed, as S3 may do
                    }
                    throw e;
                }
            });
            out.sort(Comparator.comparing(ObjectInfo::key));
            return out;
        });
    }

    @Override
    public CompletableFuture<Void> delete(String key) {
        return run("delete " + key, () -> {
            Files.deleteIfExists(file(key));
            return null;
        });
    }

    @Override
    public CompletableFuture<String> startMultipart(String key) {
        return run("start multipart " + key, () -> uploads.start(key));
    }

    @Override
    public CompletableFuture<String> uploadPart(String key, String uploadId, int partNumber, byte[] bytes, int offset, int length) {
        return run("upload part " + partNumber + " of " + key, () -> uploads.uploadPart(key, uploadId, partNumber, bytes, offset, length));
    }

    @Override
    public CompletableFuture<List<UploadedPart>> listParts(String key, String uploadId) {
        return run("list parts of " + key, () -> uploads.listParts(key, uploadId));
    }

    @Override
    public CompletableFuture<Void> completeMultipart(String key, String uploadId, List<String> partEtags) {
        return run("complete multipart " + key, () -> {
            uploads.complete(key, uploadId, partEtags);
            return null;
        });
    }

    @Override
    public CompletableFuture<Void> abortMultipart(String key, String uploadId) {
        return run("abort multipart " + key, () -> {
            uploads.abort(key, uploadId);
            return null;
        });
    }

    @Override
    public CompletableFuture<List<PendingUpload>> pendingUploads(String keyPrefix) {
        return run("list multipart uploads " + keyPrefix, () -> uploads.pending(keyPrefix));
    }

    @Override
    public void close() {
        io.shutdown();
    }

    // ---- files

    /** The file of {@code key}; keys are relative, '/'-separated, and none of their names starts with a dot. */
    Path file(String key) {
        if (key.isEmpty() || key.startsWith("/") || key.endsWith("/")) {
            throw new IllegalArgumentException("not an object key: '" + key + "'");
        }
        for (String part : key.split("/", -1)) {
            if (part.isEmpty() || part.startsWith(".") || part.chars().anyMatch(c -> c < 0x20 || c == 0x7f || c == '\\')) {
                throw new IllegalArgumentException("not an object key of a file store: '" + key + "'");
            }
        }
        return root.resolve(key);
    }

    private String keyOf(Path f) {
        return root.relativize(f).toString().replace(java.io.File.separatorChar, '/');
    }

    private Optional<ObjectInfo> info(String key, Path f) throws IOException {
        try {
            BasicFileAttributes a = Files.readAttributes(f, BasicFileAttributes.class);
            if (!a.isRegularFile()) {
                return Optional.empty();
            }
            return Optional.of(new ObjectInfo(key, a.size(), etag(a), a.lastModifiedTime().toInstant()));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    /** Changes whenever the key names other contents: a rename brings another inode. */
    private static String etag(BasicFileAttributes a) {
        byte[] identity = (a.fileKey() + "/" + a.size() + "/" + a.lastModifiedTime().toInstant()).getBytes(StandardCharsets.UTF_8);
        return UploadedPart.md5Etag(identity, 0, identity.length);
    }

    Path writeTemp(byte[] bytes, int offset, int length) throws IOException {
        Path dir = root.resolve(TMP);
        Files.createDirectories(dir);
        Path tmp = dir.resolve(UUID.randomUUID().toString());
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.wrap(bytes, offset, length);
            while (b.hasRemaining()) {
                ch.write(b);
            }
            ch.force(true);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        return tmp;
    }

    private static void readFully(FileChannel ch, ByteBuffer into, long position) throws IOException {
        while (into.hasRemaining()) {
            int n = ch.read(into, position);
            if (n < 0) {
                throw new IOException("file shrank while it was read");
            }
            position += n;
        }
    }

    private interface IoCall<T> {
        T call() throws IOException;
    }

    /** Runs {@code body} holding the key's lock against every thread and process that uses this directory. */
    private <T> T underLock(String key, IoCall<T> body) throws IOException {
        Path dir = root.resolve(LOCKS);
        Files.createDirectories(dir);
        byte[] name = key.getBytes(StandardCharsets.UTF_8);
        Path lockFile = dir.resolve(UploadedPart.md5Etag(name, 0, name.length));
        ReentrantLock local = LOCAL_LOCKS.computeIfAbsent(lockFile, p -> new ReentrantLock());
        local.lock();
        try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             FileLock ignored = ch.lock()) {
            return body.call();
        } finally {
            local.unlock();
        }
    }

    private <T> CompletableFuture<T> run(String what, IoCall<T> body) {
        CompletableFuture<T> out = new CompletableFuture<>();
        try {
            io.execute(() -> {
                try {
                    if (!Files.isDirectory(root)) {
                        throw new ObjectStoreException(Kind.NO_SUCH_BUCKET, what + " at " + describe() + ": no such directory");
                    }
                    out.complete(body.call());
                } catch (ObjectStoreException e) {
                    out.completeExceptionally(e);
                } catch (IllegalArgumentException e) {
                    out.completeExceptionally(new ObjectStoreException(Kind.REFUSED, what + " at " + describe() + ": "
                            + e.getMessage(), e));
                } catch (AccessDeniedException e) {
                    out.completeExceptionally(new ObjectStoreException(Kind.ACCESS_DENIED, what + " at " + describe()
                            + ": access denied (" + e.getMessage() + ")", e));
                } catch (IOException | UncheckedIOException e) {
                    // a full disk, a stale NFS handle, an unmounted volume: may clear, so worth retrying
                    out.completeExceptionally(new ObjectStoreException(Kind.UNAVAILABLE, what + " at " + describe()
                            + ": " + e, e));
                } catch (RuntimeException | Error e) {
                    out.completeExceptionally(e);
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            out.completeExceptionally(new ObjectStoreException(Kind.UNAVAILABLE, what + " at " + describe() + ": store closed", e));
        }
        return out;
    }
}
