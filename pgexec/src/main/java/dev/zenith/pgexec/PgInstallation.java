package dev.zenith.pgexec;

import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Where the PostgreSQL 15 server binaries are, and how to run them.
 *
 * <p>PostgreSQL refuses to run as root. When this JVM runs as root (CI does), every
 * PostgreSQL binary is run as an unprivileged OS user (Debian's package creates {@code postgres})
 * through {@code runuser}, and directories it must own are handed to that user.
 */
public final class PgInstallation {
    public static final int MAJOR_VERSION = 15;
    private static final Path SETPRIV = Path.of("/usr/bin/setpriv");

    private final Path binDir;
    private final String runAsUser; // null when we are not root

    private PgInstallation(Path binDir, String runAsUser) {
        this.binDir = binDir;
        this.runAsUser = runAsUser;
    }

    /**
     * Finds PostgreSQL 15: {@code ZENITH_PG_BIN}, then {@code pg_config --bindir}, then Debian's
     * {@code /usr/lib/postgresql/15/bin}. Throws with the exact install command when none is found.
     */
    public static PgInstallation detect() {
        List<Path> candidates = new ArrayList<>();
        String env = System.getenv("ZENITH_PG_BIN");
        if (env != null && !env.isBlank()) {
            candidates.add(Path.of(env));
        }
        pgConfigBinDir().ifPresent(candidates::add);
        candidates.add(Path.of("/usr/lib/postgresql/" + MAJOR_VERSION + "/bin"));
        for (Path dir : candidates) {
            if (Files.isExecutable(dir.resolve("postgres")) && isVersion15(dir)) {
                return new PgInstallation(dir, isRoot() ? unprivilegedUser() : null);
            }
        }
        throw new IllegalStateException("PostgreSQL " + MAJOR_VERSION + " server binaries not found (looked in "
                + candidates + "). Install them with: apt-get install -y postgresql-" + MAJOR_VERSION
                + " (or set ZENITH_PG_BIN to their directory)");
    }

    /**
     * {@link #detect} on a thread of its own, answered when asked: its processes ({@code pg_config},
     * {@code postgres --version}) run while the caller readies other things. The answer, or the same
     * exception {@code detect} throws.
     */
    public static Supplier<PgInstallation> detectAhead() {
        FutureTask<PgInstallation> detection = new FutureTask<>(PgInstallation::detect);
        Thread thread = new Thread(detection, "zenith-pg-detect");
        thread.setDaemon(true);
        thread.start();
        return () -> {
            try {
                return detection.get();
            } catch (ExecutionException e) {
                throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while looking for PostgreSQL " + MAJOR_VERSION, e);
            }
        };
    }

    public Path binDir() {
        return binDir;
    }

    public Path bin(String name) {
        return binDir.resolve(name);
    }

    /** The OS user PostgreSQL runs as, or empty when that is the current user. */
    public Optional<String> runAsUser() {
        return Optional.ofNullable(runAsUser);
    }

    /**
     * A command line that starts the given PostgreSQL server binary as the right user by {@code setpriv} where it is
     * installed (util-linux): it only switches user and group and execs the binary in place, no PAM session and no
     * waiting parent (about 3 ms vs runuser's 13 ms per start at load), so the process started is the binary itself.
     * The environment is kept as it is (HOME stays ours): for servers, which read none of it; else as {@link #command}.
     */
    public List<String> serverCommand(String binary, String... args) {
        if (runAsUser == null || !Files.isExecutable(SETPRIV)) {
            return command(binary, args);
        }
        List<String> cmd = new ArrayList<>(List.of(SETPRIV.toString(), "--reuid=" + runAsUser, "--regid=" + runAsUser,
                "--init-groups", "--"));
        cmd.add(bin(binary).toString());
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** A command line that runs the given PostgreSQL binary as the right user. */
    public List<String> command(String binary, String... args) {
        List<String> cmd = new ArrayList<>();
        if (runAsUser != null) {
            cmd.add("runuser");
            cmd.add("-u");
            cmd.add(runAsUser);
            cmd.add("--");
        }
        cmd.add(bin(binary).toString());
        cmd.addAll(List.of(args));
        return cmd;
    }

    /**
     * Makes {@code dir} (recursively) owned by the user PostgreSQL runs as, so it can use a directory
     * this JVM created. A no-op when we are not root.
     */
    public void handOver(Path dir) throws IOException {
        if (runAsUser == null) {
            return;
        }
        UserPrincipalLookupService lookup = dir.getFileSystem().getUserPrincipalLookupService();
        var user = lookup.lookupPrincipalByName(runAsUser);
        var group = lookup.lookupPrincipalByGroupName(runAsUser);
        try (var paths = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) paths::iterator) {
                PosixFileAttributeView view = Files.getFileAttributeView(p, PosixFileAttributeView.class,
                        java.nio.file.LinkOption.NOFOLLOW_LINKS);
                view.setOwner(user);
                view.setGroup(group);
            }
        }
    }

    /**
     * Lets the unprivileged user PostgreSQL runs as pass through a private directory of ours (mode 0710,
     * group: that user's), and no one else: the way to the compute directories it owns. A no-op when
     * PostgreSQL runs as this process's own user.
     */
    public void letServerTraverse(Path dir) throws IOException {
        if (runAsUser == null) {
            return;
        }
        var group = dir.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByGroupName(runAsUser);
        Files.getFileAttributeView(dir, PosixFileAttributeView.class).setGroup(group);
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwx--x---"));
    }

    /**
     * Makes every ancestor of {@code dir} traversable by the unprivileged user, or explains why it cannot.
     * PostgreSQL needs to reach its data directory; a root-owned 0700 home directory would stop it.
     */
    public void checkReachable(Path dir) throws IOException {
        if (runAsUser == null) {
            return;
        }
        List<String> cmd = List.of("runuser", "-u", runAsUser, "--", "test", "-x", dir.toAbsolutePath().toString());
        if (run(cmd) != 0) {
            throw new IOException("PostgreSQL runs as OS user '" + runAsUser + "', who cannot reach " + dir
                    + ". Put ZENITH_HOME somewhere that user can traverse (for example under /tmp or /var/lib),"
                    + " or run zenith as an ordinary user.");
        }
    }

    public static boolean isRoot() {
        return "root".equals(System.getProperty("user.name"));
    }

    private static String unprivilegedUser() {
        String user = System.getenv().getOrDefault("ZENITH_PG_USER", "postgres");
        try {
            // the user database lookup `id -u` makes, without a process
            FileSystems.getDefault().getUserPrincipalLookupService().lookupPrincipalByName(user);
            return user;
        } catch (IOException e) {
            // fall through to the explanation below
        }
        throw new IllegalStateException("zenith runs as root, and PostgreSQL refuses to run as root; the OS user '"
                + user + "' does not exist. Install Debian's postgresql-" + MAJOR_VERSION
                + " (it creates 'postgres'), or set ZENITH_PG_USER to an existing unprivileged user.");
    }

    private static Optional<Path> pgConfigBinDir() {
        try {
            Process p = new ProcessBuilder("pg_config", "--bindir").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes()).trim();
            if (p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0 && !out.isEmpty()) {
                return Optional.of(Path.of(out));
            }
        } catch (IOException | InterruptedException e) {
            // pg_config is optional
        }
        return Optional.empty();
    }

    private static boolean isVersion15(Path dir) {
        try {
            Process p = new ProcessBuilder(dir.resolve("postgres").toString(), "--version").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            return p.waitFor(10, TimeUnit.SECONDS) && out.contains("PostgreSQL) " + MAJOR_VERSION + ".");
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    private static int run(List<String> cmd) throws IOException {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }
}
