package dev.zenith.server.storages;

import dev.zenith.server.domain.JsonProblem;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code ZENITH_HOME/storages.json}: one entry a storage, available or not, written atomically. The file is
 * the daemon's own persistence (snake_case, as the server's documents), not the REST API's answer.
 */
final class RegistryFile {
    private final Path file;

    RegistryFile(Path file) {
        this.file = file;
    }

    boolean exists() {
        return Files.exists(file);
    }

    List<JsonObject> read() throws IOException {
        JsonArray list;
        try {
            list = new JsonArray(Files.readString(file));
        } catch (DecodeException e) {
            throw new IOException("cannot read " + file + " (the list of storages): " + JsonProblem.of(e));
        }
        List<JsonObject> entries = new ArrayList<>();
        for (Object o : list) {
            entries.add((JsonObject) o);
        }
        return entries;
    }

    /** An available storage's entry, with the pgs it holds (a stall is the running daemon's news, not kept). */
    static JsonObject entryOf(StorageRegistry.Storage s, List<String> pgs) {
        JsonObject entry = new JsonObject().put("name", s.name()).put("type", s.type()).put("path", s.path().toString())
                .put("attached_at", s.attachedAt().toString()).put("pitr", Durations.format(s.pitr()))
                .put("tenant_id", s.tenantId()).put("status", "available").put("pgs", new JsonArray(pgs));
        return s.remote() == null ? entry : entry.put("remote", s.remote().copy()); // where an s3 storage lives
    }

    /** Writes the list: a temp file, fsync, rename. Unavailable storages stay listed as they were. */
    void write(List<JsonObject> available, List<UnavailableStorage> unavailable) throws IOException {
        JsonArray list = new JsonArray();
        available.forEach(list::add);
        unavailable.forEach(u -> {
            JsonObject entry = u.listedEntry();
            entry.remove("status");
            entry.remove("error");
            list.add(entry);
        });
        Files.createDirectories(file.getParent());
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, list.encodePrettily());
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
}
