package dev.zenith.server.testing;

import dev.zenith.storage.Store;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Another process holding a store open, as another daemon would, without writing to it: prints
 * "held" once it has the store and keeps it until killed or until its stdin closes.
 */
public final class StoreHolder {
    public static Process start(Path dir) throws IOException {
        Process p = new ProcessBuilder(DaemonFixture.javaCommand(List.of(), StoreHolder.class, dir.toString()))
                .redirectErrorStream(true).start();
        String line = new String(p.getInputStream().readNBytes("held\n".length()));
        if (!line.equals("held\n")) {
            p.destroyForcibly();
            throw new IOException("store holder did not start: " + line + new String(p.getInputStream().readAllBytes()));
        }
        return p;
    }

    public static void main(String[] args) throws IOException {
        try (Store store = Store.open(Path.of(args[0]))) {
            System.out.println("held");
            System.out.flush();
            while (System.in.read() >= 0) {
                // hold until stdin closes
            }
        }
    }
}
