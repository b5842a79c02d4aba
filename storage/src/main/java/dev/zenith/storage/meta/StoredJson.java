package dev.zenith.storage.meta;

import dev.zenith.storage.failure.StoreFormatException;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * The one JSON casing of stored documents: snake_case, as the server's own documents (pgs, snapshots,
 * slots) and the REST API. The store's timeline records and image manifests were written in camelCase
 * before; stores keep them, so a field is read under its snake_case name or, failing that, under the
 * camelCase one it had.
 */
public final class StoredJson {
    private StoredJson() {
    }

    /** The field {@code snakeCase} of {@code document}, or its older name {@code camelCase}; a {@link StoreFormatException} when neither is there. */
    public static JsonNode field(JsonNode document, String snakeCase, String camelCase) {
        JsonNode v = document.get(snakeCase);
        if (v == null) {
            v = document.get(camelCase);
        }
        if (v == null) {
            throw new StoreFormatException("a stored document has no field " + snakeCase + ": " + document);
        }
        return v;
    }
}
