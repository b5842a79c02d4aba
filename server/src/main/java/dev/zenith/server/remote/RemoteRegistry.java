package dev.zenith.server.remote;

import dev.zenith.server.domain.ConflictException;
import dev.zenith.server.domain.NotFoundException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The remotes this daemon knows, kept in {@code ZENITH_HOME/remotes.json} (written whole to a temporary
 * file, then renamed over it). Blocking; thread-safe.
 */
public final class RemoteRegistry {
    private final Path file;
    private final Map<String, Remote> remotes = new TreeMap<>();

    private RemoteRegistry(Path file) {
        this.file = file;
    }

    public static RemoteRegistry open(Path file) throws IOException {
        RemoteRegistry r = new RemoteRegistry(file);
        if (Files.exists(file)) {
            JsonArray all = new JsonArray(Files.readString(file, StandardCharsets.UTF_8));
            for (int i = 0; i < all.size(); i++) {
                Remote remote = Remote.fromJson(all.getJsonObject(i));
                r.remotes.put(remote.name(), remote);
            }
        }
        return r;
    }

    public synchronized Remote add(Remote remote) throws IOException {
        if (remotes.containsKey(remote.name())) {
            throw new ConflictException("remote '" + remote.name() + "' exists (" + remotes.get(remote.name()).url()
                    + "); remove it first: zenith remote remove " + remote.name());
        }
        remotes.put(remote.name(), remote);
        try {
            save();
        } catch (IOException | RuntimeException e) {
            remotes.remove(remote.name());
            throw e;
        }
        return remote;
    }

    public synchronized Remote remove(String name) throws IOException {
        Remote gone = get(name);
        remotes.remove(name);
        try {
            save();
        } catch (IOException | RuntimeException e) {
            remotes.put(name, gone);
            throw e;
        }
        return gone;
    }

    public synchronized Remote get(String name) {
        Remote r = remotes.get(name);
        if (r == null) {
            throw new NotFoundException("no remote '" + name + "'" + (remotes.isEmpty() ? "; add one: zenith remote add NAME s3://BUCKET/PREFIX"
                    : "; remotes: " + String.join(", ", remotes.keySet())));
        }
        return r;
    }

    public synchronized List<Remote> list() {
        return new ArrayList<>(remotes.values());
    }

    private void save() throws IOException {
        JsonArray all = new JsonArray();
        remotes.values().forEach(r -> all.add(r.toJson()));
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.createDirectories(file.getParent());
        Files.writeString(tmp, all.encodePrettily() + "\n", StandardCharsets.UTF_8);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    public static JsonArray toJson(List<Remote> remotes) {
        JsonArray out = new JsonArray();
        remotes.forEach(r -> out.add(r.toJson()));
        return out;
    }

}
