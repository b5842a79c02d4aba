package dev.zenith.server.testing;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.List;

/**
 * Fails a test (or its class, for what a shared fixture did outside any test) when an event loop of a
 * {@link CheckedVertx} blocked meanwhile. Registered for every test of this module by
 * src/test/resources/META-INF/services (autodetection is on in junit-platform.properties).
 */
public final class NoBlockedEventLoops implements AfterEachCallback, AfterAllCallback {
    @Override
    public void afterEach(ExtensionContext context) {
        check();
    }

    @Override
    public void afterAll(ExtensionContext context) {
        check();
    }

    private static void check() {
        List<String> blocked = CheckedVertx.drain();
        if (!blocked.isEmpty()) {
            throw new AssertionError("an event loop blocked (run it on a worker instead):\n" + String.join("\n\n", blocked));
        }
    }
}
