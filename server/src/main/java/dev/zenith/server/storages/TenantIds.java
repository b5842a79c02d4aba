package dev.zenith.server.storages;

import dev.zenith.storage.Store;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Optional;

/** A storage's own id, kept in the storage (so it moves with it): page-service clients name it by this. */
final class TenantIds {
    /** Where a storage keeps its id. */
    private static final String TENANT_ID_KEY = "storage/tenant_id";

    private TenantIds() {
    }

    /** The storage's id: 32 hex digits, made when the storage is first attached (blocking). */
    static String of(Store store) {
        Optional<byte[]> kept = store.documents().get(TENANT_ID_KEY);
        if (kept.isPresent()) {
            return new String(kept.get(), StandardCharsets.US_ASCII);
        }
        byte[] random = new byte[16];
        new SecureRandom().nextBytes(random);
        String id = HexFormat.of().formatHex(random);
        store.documents().put(TENANT_ID_KEY, id.getBytes(StandardCharsets.US_ASCII));
        return id;
    }
}
