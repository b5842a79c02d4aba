package dev.zenith.server.offload;

import dev.zenith.objectstore.lease.LeaseRecord;
import dev.zenith.objectstore.lease.Takeover;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;
import java.util.UUID;

/**
 * Lets a daemon restarted after a crash (kill -9, power loss) take its s3 storage's lease at once instead
 * of waiting a minute for the lease its dead predecessor left. Each lease record names its holder: a random
 * id kept in the home ({@code home-id}), the host name and the home's path, and the holder's pid. An
 * unexpired lease is taken over only when all of these hold:
 * <ul>
 *   <li>this daemon holds the home's lock ({@code zenith.lock}; it could not run otherwise), so no other
 *       daemon of this home runs on this host;</li>
 *   <li>the record names this home on this host (another home, or a copy of this one elsewhere, never
 *       matches: the id is random per home and the host name is part of it);</li>
 *   <li>its generation is the one this cache last wrote the prefix under, so nobody took the prefix since;</li>
 *   <li>no live process has the record's pid (or it is this process: the pid was reused by us).</li>
 * </ul>
 * The take itself is then the usual write, settle and read-back, and a new generation fences what the
 * dead holder wrote. A restore (attach) never takes over: it has no cache whose generation it could check.
 */
final class HomeTakeover implements Takeover {
    private final String holder;
    private final long pid = ProcessHandle.current().pid();
    private final OptionalLong cacheGeneration;

    private HomeTakeover(String holder, OptionalLong cacheGeneration) {
        this.holder = holder;
        this.cacheGeneration = cacheGeneration;
    }

    /** The holder identity of {@code home} on this host; the takeover allowed for a cache last written under {@code cacheGeneration}. */
    static HomeTakeover of(Path home, OptionalLong cacheGeneration) {
        return new HomeTakeover(homeId(home) + " " + hostName() + ":" + home.toAbsolutePath().normalize(), cacheGeneration);
    }

    @Override
    public String holder() {
        return holder;
    }

    @Override
    public long pid() {
        return pid;
    }

    @Override
    public boolean leftByCrashedPredecessor(LeaseRecord held) {
        return cacheGeneration.isPresent() && held.generation() == cacheGeneration.getAsLong()
                && held.holder().equals(holder) && held.pid() != 0
                && (held.pid() == pid || ProcessHandle.of(held.pid()).map(p -> !p.isAlive()).orElse(true));
    }

    static String hostName() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "localhost";
        }
    }

    /** The home's random id, made at its first use (a home copied elsewhere keeps it, but not its host name). */
    private static String homeId(Path home) {
        Path f = home.resolve("home-id");
        try {
            if (!Files.exists(f)) {
                Path tmp = Files.createTempFile(home, "home-id", ".tmp");
                Files.writeString(tmp, UUID.randomUUID().toString(), StandardCharsets.US_ASCII);
                try {
                    Files.createLink(f, tmp); // never replaces an id another start already wrote
                } catch (FileAlreadyExistsException e) {
                    // kept the first
                } finally {
                    Files.delete(tmp);
                }
            }
            return Files.readString(f, StandardCharsets.US_ASCII).trim();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read or make the home's id " + f, e);
        }
    }
}
