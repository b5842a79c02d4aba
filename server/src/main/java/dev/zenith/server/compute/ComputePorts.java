package dev.zenith.server.compute;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.function.IntPredicate;

/** The TCP ports of computes: the first one at or above the configured start that no pg has and nobody listens on. */
final class ComputePorts {
    private final int firstPort;

    ComputePorts(int firstPort) {
        this.firstPort = firstPort;
    }

    /** {@code takenByPg}: whether a pg of this daemon has the port already (running or not). */
    int allocate(IntPredicate takenByPg) throws IOException {
        for (int port = firstPort; port <= 65535; port++) {
            if (!takenByPg.test(port) && bindable(port)) {
                return port;
            }
        }
        throw new IOException("no free TCP port for a compute at or above " + firstPort);
    }

    /** Whether nothing listens on the port on the loopback address (a pg's port is part of its connstr). */
    static boolean bindable(int port) {
        try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
