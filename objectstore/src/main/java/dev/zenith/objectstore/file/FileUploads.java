package dev.zenith.objectstore.file;

import dev.zenith.objectstore.FileSync;
import dev.zenith.objectstore.ObjectStoreException;
import dev.zenith.objectstore.ObjectStoreException.Kind;
import dev.zenith.objectstore.PendingUpload;
import dev.zenith.objectstore.UploadedPart;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A {@link FileObjectStore}'s multipart uploads: an upload is the directory {@code dir/.zenith-multipart/<id>}
 * holding its key and its parts, each named with its number and MD5 (the ETag, as S3 has it); completing it
 * concatenates the parts into a temporary file renamed over the key. Blocking: the store runs these on its
 * own threads.
 */
final class FileUploads {
    private static final String MULTIPART = ".zenith-multipart";
    private static final String UPLOAD_KEY = "key";
    private static final Pattern PART = Pattern.compile("part-(\\d{5})-([0-9a-f]{32})");
    private static final Pattern UPLOAD_ID = Pattern.compile("[0-9a-f]{32}");

    private final FileObjectStore store;
    private final Path root;

    FileUploads(FileObjectStore store, Path root) {
        this.store = store;
        this.root = root;
    }

    String start(String key) throws IOException {
        store.file(key); // a valid key
        String id = UUID.randomUUID().toString().replace("-", "");
        Path dir = root.resolve(MULTIPART).resolve(id);
        Files.createDirectories(dir);
        byte[] keyBytes = key.getBytes(StandardCharsets.UTF_8);
        Path tmp = store.writeTemp(keyBytes, 0, keyBytes.length);
        Files.move(tmp, dir.resolve(UPLOAD_KEY), StandardCopyOption.ATOMIC_MOVE);
        return id;
    }

    String uploadPart(String key, String uploadId, int partNumber, byte[] bytes, int offset, int length) throws IOException {
        if (partNumber < 1 || partNumber > 10_000) {
            throw new ObjectStoreException(Kind.REFUSED, "part numbers are 1 to 10000, not " + partNumber);
        }
        Path dir = upload(key, uploadId);
        String md5 = UploadedPart.md5Etag(bytes, offset, length);
        Path tmp = store.writeTemp(bytes, offset, length);
        String name = String.format("part-%05d-%s", partNumber, md5);
        Files.move(tmp, dir.resolve(name), StandardCopyOption.ATOMIC_MOVE);
        for (Path other : parts(dir)) { // a part sent again replaces the earlier one, as on S3
            Matcher m = PART.matcher(other.getFileName().toString());
            if (m.matches() && Integer.parseInt(m.group(1)) == partNumber && !m.group(2).equals(md5)) {
                Files.deleteIfExists(other);
            }
        }
        return md5;
    }

    List<UploadedPart> listParts(String key, String uploadId) throws IOException {
        List<UploadedPart> out = new ArrayList<>();
        for (Path p : parts(upload(key, uploadId))) {
            Matcher m = PART.matcher(p.getFileName().toString());
            m.matches(); // parts() kept only names that do
            out.add(new UploadedPart(Integer.parseInt(m.group(1)), m.group(2), Files.size(p)));
        }
        return out;
    }

    void complete(String key, String uploadId, List<String> partEtags) throws IOException {
        Path dir = upload(key, uploadId);
        Path target = store.file(key);
        Path tmp = root.resolve(FileObjectStore.TMP).resolve(UUID.randomUUID().toString());
        Files.createDirectories(tmp.getParent());
        try {
            try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                for (int i = 0; i < partEtags.size(); i++) {
                    Path part = dir.resolve(String.format("part-%05d-%s", i + 1, partEtags.get(i)));
                    if (!Files.isRegularFile(part)) {
                        throw new ObjectStoreException(Kind.REFUSED, "complete multipart " + key + " at " + store.describe()
                                + ": part " + (i + 1) + " with ETag " + partEtags.get(i) + " was not uploaded");
                    }
                    try (FileChannel in = FileChannel.open(part, StandardOpenOption.READ)) {
                        long size = in.size();
                        for (long done = 0; done < size; ) {
                            done += in.transferTo(done, size - done, out);
                        }
                    }
                }
                out.force(true);
            }
            Files.createDirectories(target.getParent());
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            FileSync.syncDirectory(target.getParent());
        } finally {
            Files.deleteIfExists(tmp);
        }
        deleteTree(dir);
    }

    void abort(String key, String uploadId) throws IOException {
        deleteTree(upload(key, uploadId));
    }

    List<PendingUpload> pending(String keyPrefix) throws IOException {
        List<PendingUpload> out = new ArrayList<>();
        Path uploads = root.resolve(MULTIPART);
        if (!Files.isDirectory(uploads)) {
            return out;
        }
        try (var dirs = Files.list(uploads)) {
            for (Path dir : dirs.toList()) {
                Path keyFile = dir.resolve(UPLOAD_KEY);
                try {
                    String key = Files.readString(keyFile, StandardCharsets.UTF_8);
                    if (key.startsWith(keyPrefix)) {
                        out.add(new PendingUpload(key, dir.getFileName().toString(),
                                Files.getLastModifiedTime(keyFile).toInstant()));
                    }
                } catch (NoSuchFileException e) {
                    // being started or completed right now
                }
            }
        }
        out.sort(Comparator.comparing(PendingUpload::key).thenComparing(PendingUpload::initiated));
        return out;
    }

    private Path upload(String key, String uploadId) throws IOException {
        Path dir = UPLOAD_ID.matcher(uploadId).matches() ? root.resolve(MULTIPART).resolve(uploadId) : null;
        try {
            if (dir != null && Files.readString(dir.resolve(UPLOAD_KEY), StandardCharsets.UTF_8).equals(key)) {
                return dir;
            }
        } catch (NoSuchFileException e) {
            // fall through
        }
        throw new ObjectStoreException(Kind.REFUSED, "no multipart upload " + uploadId + " of " + key + " at " + store.describe());
    }

    private static List<Path> parts(Path dir) throws IOException {
        try (var files = Files.list(dir)) {
            return files.filter(p -> PART.matcher(p.getFileName().toString()).matches()).sorted().toList();
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (var files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (NoSuchFileException e) {
            // gone already
        }
    }
}
