package dev.zenith.server.importer;

import dev.zenith.pgexec.PgPassLookup;
import dev.zenith.protocol.replication.BaseBackupClient;
import dev.zenith.protocol.replication.BaseBackupClient.*;
import dev.zenith.server.domain.InvalidRequestException;
import dev.zenith.server.jobs.Progress;
import dev.zenith.storage.image.StreamedPages;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.util.ArrayDeque;

/**
 * {@code basebackup://}: our replication client ({@link BaseBackupClient}) takes a base backup with its WAL
 * from a PostgreSQL 15 primary or standby, and its tar is unpacked into the staging directory as it
 * arrives (its relation files' pages also into the new storage, when one is given). Blocking (a plain socket on the import's worker thread).
 */
final class BaseBackupFetch {
    private static final int CONNECT_TIMEOUT_MS = 10_000;
    /** Read from the socket at once at most. */
    private static final int READ_BYTES = 1 << 16;

    private BaseBackupFetch() {
    }

    /**
     * Fills {@code dataDir} with the backup; returns the server's version string. {@code password}: the one the
     * client sent (from its PGPASSWORD or ~/.pgpass), else null: the daemon's own, or none (trust).
     * {@code streamed}: where relation pages go as they arrive, or null.
     */
    static String fetch(ImportSource.BaseBackupUrl url, String password, Path dataDir, StreamedPages streamed)
            throws IOException {
        if (password == null) {
            password = PgPassLookup.password(url.host(), url.port(), "replication", url.user()).orElse(null);
        }
        BaseBackupClient client = new BaseBackupClient(url.user(), password, "zenith import");
        try (Socket socket = new Socket()) {
            try {
                socket.connect(new InetSocketAddress(url.host(), url.port()), CONNECT_TIMEOUT_MS);
            } catch (IOException e) {
                throw new InvalidRequestException("cannot connect to " + url.describe() + ": " + e.getMessage());
            }
            socket.setSoTimeout(0);
            OutputStream out = socket.getOutputStream();
            out.write(client.startupPacket());
            out.flush();
            Progress.current().phase("taking a base backup from " + url.describe());
            ArchiveStream archive = new ArchiveStream(client, socket.getInputStream(), out, url);
            TarUnpacker.unpack(archive, dataDir, "the base backup of " + url.describe(), streamed);
            archive.drainToEnd();
            out.write(client.terminate());
            return client.serverParameters().getOrDefault("server_version", "?");
        }
    }

    /** The backup's tar bytes as a stream: reads the socket and feeds the client until it has some. */
    private static final class ArchiveStream extends InputStream {
        private final BaseBackupClient client;
        private final InputStream socket;
        private final OutputStream out;
        private final ImportSource.BaseBackupUrl url;
        private final ArrayDeque<ArchiveData> chunks = new ArrayDeque<>();
        private ArchiveData current;
        private int pos;
        private boolean started;
        private boolean finished;

        ArchiveStream(BaseBackupClient client, InputStream socket, OutputStream out, ImportSource.BaseBackupUrl url) {
            this.client = client;
            this.socket = socket;
            this.out = out;
            this.url = url;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            while (current == null || pos == current.length()) {
                if (current != null) {
                    client.recycle(current); // copied out: the next CopyData may be received into its array
                }
                current = chunks.poll();
                pos = 0;
                if (current == null) {
                    if (finished || started && client.state() == BaseBackupClient.State.ENDING) {
                        return -1;
                    }
                    receive();
                }
            }
            int n = Math.min(len, current.length() - pos);
            System.arraycopy(current.data(), current.offset() + pos, b, off, n);
            pos += n;
            Progress.current().advance(n);
            Progress.current().checkCancelled(); // into the staging directory, which a failure deletes
            return n;
        }

        /** Reads what the server sent until the backup ends (the tar's end-of-archive blocks may come first). */
        void drainToEnd() throws IOException {
            while (!finished) {
                receive();
                chunks.clear();
            }
        }

        private void receive() throws IOException {
            int n = client.feedFrom(socket::read, READ_BYTES); // read into the client's decoder: no copy between
            if (n < 0) {
                throw new IOException("the server at " + url.describe() + " closed the connection during the base backup");
            }
            byte[] reply = client.drainOutbound();
            if (reply.length > 0) {
                out.write(reply);
                out.flush();
            }
            for (Event e = client.poll(); e != null; e = client.poll()) {
                if (e instanceof ArchiveStarted a) {
                    if (started || !a.tablespaceLocation().isEmpty()) {
                        throw new InvalidRequestException("the cluster at " + url.describe() + " has tablespaces ("
                                + a.name() + " at " + a.tablespaceLocation() + "); an import takes clusters without tablespaces");
                    }
                    started = true;
                } else if (e instanceof ArchiveData d) {
                    chunks.add(d);
                } else if (e instanceof Tablespace t) {
                    if (t.oid() != null) {
                        throw new InvalidRequestException("the cluster at " + url.describe() + " has a tablespace at "
                                + t.location() + "; an import takes clusters without tablespaces");
                    }
                    if (t.sizeKb() != null) {
                        Progress.current().total(t.sizeKb() * 1024); // the data directory, WAL not counted
                    }
                } else if (e instanceof Connected) {
                    String version = client.serverParameters().getOrDefault("server_version", "");
                    if (!version.startsWith("15.") && !version.startsWith("15 ") && !version.equals("15")) {
                        throw new InvalidRequestException("the server at " + url.describe() + " runs PostgreSQL " + version
                                + "; zenith stores PostgreSQL 15 clusters only");
                    }
                } else if (e instanceof Finished) {
                    finished = true;
                } else if (e instanceof ServerError s) {
                    throw new InvalidRequestException("the server at " + url.describe() + " refused the base backup: "
                            + s.fields().message());
                } else if (e instanceof ProtocolError p) {
                    throw new InvalidRequestException("the base backup from " + url.describe() + " failed: " + p.message());
                }
            }
        }
    }
}
