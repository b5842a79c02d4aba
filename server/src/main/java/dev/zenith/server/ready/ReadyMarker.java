package dev.zenith.server.ready;

import dev.zenith.objectstore.FileSync;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Optional;

/**
 * Which start a ready data directory equals, written only once every file of it is written and removed before
 * any of it changes: a directory without one (a crash mid-update) is never used, only rebuilt. Files are not
 * fsynced: a crash of the daemon loses nothing written to the page cache, and a crash of the machine, which may,
 * changes the boot id, so a marker of another boot is no marker (where the boot id cannot be read, the files and
 * the marker are fsynced instead).
 *
 * @param digest     {@link PlanDigest} of the anchored start it was written for
 * @param timeline   the timeline it was written for (the anchor's)
 * @param imageLsn   the image its small files come from
 * @param versionsAt its blocks are the newest versions at or below this (the anchor's redo point)
 */
record ReadyMarker(String digest, TimelineId timeline, Lsn imageLsn, Lsn versionsAt) {
    static final String FILE = "ready.json";
    private static final Path BOOT_ID = Path.of("/proc/sys/kernel/random/boot_id");

    static Optional<ReadyMarker> read(Path root) {
        try {
            JsonObject j = new JsonObject(Files.readString(root.resolve(FILE)));
            Optional<String> boot = bootId();
            if (boot.isPresent() && !boot.get().equals(j.getString("boot_id"))) {
                return Optional.empty(); // written before the machine restarted: its files may not all be there
            }
            return Optional.of(new ReadyMarker(j.getString("digest"), TimelineId.parse(j.getString("timeline")),
                    Lsn.parse(j.getString("image_lsn")), Lsn.parse(j.getString("versions_at"))));
        } catch (IOException | DecodeException | IllegalArgumentException | NullPointerException e) {
            return Optional.empty(); // none, or not one we wrote whole: the directory is not used
        }
    }

    /**
     * Written beside the directory under a temporary name and renamed over; without a boot id, the directory's
     * files, the marker and the rename are forced first.
     */
    void write(Path root) throws IOException {
        Optional<String> boot = bootId();
        if (boot.isEmpty()) {
            Durable.forceTree(root.resolve(ReadyDirectories.DATA));
        }
        byte[] json = new JsonObject().put("digest", digest).put("timeline", timeline.toString())
                .put("boot_id", boot.orElse(null))
                .put("image_lsn", imageLsn.toString()).put("versions_at", versionsAt.toString())
                .encode().getBytes(StandardCharsets.UTF_8);
        Path tmp = root.resolve(FILE + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ch.write(java.nio.ByteBuffer.wrap(json));
            if (boot.isEmpty()) {
                ch.force(true);
            }
        }
        Files.move(tmp, root.resolve(FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        if (boot.isEmpty()) {
            FileSync.syncDirectory(root);
        }
    }

    /** Removed before the directory changes or leaves (durably where there is no boot id). */
    static void remove(Path root) throws IOException {
        if (Files.deleteIfExists(root.resolve(FILE)) && bootId().isEmpty()) {
            FileSync.syncDirectory(root);
        }
    }

    /** This boot of the machine (Linux), changed by every restart of it. */
    static Optional<String> bootId() {
        try {
            return Optional.of(Files.readString(BOOT_ID).trim()).filter(s -> !s.isEmpty());
        } catch (IOException | SecurityException e) {
            return Optional.empty();
        }
    }
}
