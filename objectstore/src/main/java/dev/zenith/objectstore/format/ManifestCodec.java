package dev.zenith.objectstore.format;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.zenith.objectstore.format.Manifest.Entry;
import dev.zenith.objectstore.format.ObjectNames.ManifestName;

import static dev.zenith.objectstore.format.JsonFields.array;
import static dev.zenith.objectstore.format.JsonFields.field;
import static dev.zenith.objectstore.format.JsonFields.text;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Manifests as JSON inside an {@link ObjectFrame} (so they are compressed and checksummed like
 * every object). No I/O. Decoding checks the frame, the JSON's shape, and that the manifest's own
 * name matches the key it was read from.
 *
 * <pre>
 * {"format":1, "generation":"…", "sequence":"…", "previous":"manifests/…"|null, "full":true|false,
 *  "created":"2026-12-06T04:30:00Z",
 *  "added":[{"key":"blobs/ab/ab…","sha256":"ab…","length":123,"stored":60,"labels":{"kind":"wal",…}}],
 *  "removed":["blobs/…"], "properties":{"timeline.<id>.remote_lsn":"0/16B3748"}}
 * </pre>
 */
public final class ManifestCodec {
    private static final int FORMAT = 1;
    private static final ObjectMapper JSON = new ObjectMapper();

    private ManifestCodec() {
    }

    public static byte[] encode(Manifest m) {
        ObjectNode root = JSON.createObjectNode();
        root.put("format", FORMAT);
        root.put("generation", Long.toString(m.name().generation()));
        root.put("sequence", Long.toString(m.name().sequence()));
        root.put("previous", m.previous().map(ManifestName::key).orElse(null));
        root.put("full", m.full());
        root.put("created", m.created().toString());
        ArrayNode added = root.putArray("added");
        m.added().forEach(e -> writeEntry(added.addObject(), e));
        ArrayNode removed = root.putArray("removed");
        m.removed().forEach(removed::add);
        JsonFields.putStrings(root, "properties", m.properties());
        try {
            return ObjectFrame.encode(JSON.writeValueAsBytes(root)).bytes();
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a JSON tree always writes", e);
        }
    }

    /** The manifest stored under {@code key}; a {@link CorruptObjectException} when it is not a valid one. */
    public static Manifest decode(String key, byte[] stored) {
        String what = "manifest " + key;
        ManifestName expected = ObjectNames.manifestName(key)
                .orElseThrow(() -> new IllegalArgumentException("not a manifest key: " + key));
        byte[] json = ObjectFrame.decode(what, stored, null);
        try {
            JsonNode root = JSON.readTree(json);
            if (root == null || !root.isObject()) {
                throw new CorruptObjectException(what, "not a JSON object");
            }
            if (field(what, root, "format").asInt(-1) != FORMAT) {
                throw new CorruptObjectException(what, "unknown manifest format " + root.get("format"));
            }
            ManifestName name = new ManifestName(Long.parseLong(text(what, root, "generation")),
                    Long.parseLong(text(what, root, "sequence")));
            if (!name.equals(expected)) {
                throw new CorruptObjectException(what, "it names itself " + name);
            }
            JsonNode prev = field(what, root, "previous");
            Optional<ManifestName> previous = prev.isNull() ? Optional.empty()
                    : Optional.of(ObjectNames.manifestName(prev.asText())
                    .orElseThrow(() -> new CorruptObjectException(what, "previous is not a manifest key: " + prev.asText())));
            List<Entry> added = new ArrayList<>();
            for (JsonNode n : array(what, root, "added")) {
                added.add(readEntry(what, n));
            }
            List<String> removed = new ArrayList<>();
            array(what, root, "removed").forEach(n -> removed.add(n.asText()));
            Map<String, String> properties = JsonFields.strings(what, root, "properties");
            return new Manifest(name, previous, field(what, root, "full").asBoolean(), Instant.parse(text(what, root, "created")),
                    added, removed, properties);
        } catch (IOException | IllegalArgumentException | DateTimeParseException e) {
            if (e instanceof CorruptObjectException c) {
                throw c;
            }
            throw new CorruptObjectException(what, "not a valid manifest (" + e.getMessage() + ")", e);
        }
    }

    public static String toJson(byte[] stored) {
        return new String(ObjectFrame.decode("manifest", stored, null), StandardCharsets.UTF_8);
    }

    /** One entry as {@code {"key","sha256","length","stored","labels":{...}}} (shared with the snapshot catalogue). */
    public static void writeEntry(ObjectNode n, Entry e) {
        n.put("key", e.key());
        n.put("sha256", e.hash().hex());
        n.put("length", e.contentLength());
        n.put("stored", e.storedLength());
        JsonFields.putStrings(n, "labels", e.labels());
    }

    public static Entry readEntry(String what, JsonNode n) {
        try {
            return new Entry(text(what, n, "key"), ContentHash.parse(text(what, n, "sha256")),
                    JsonFields.number(what, n, "length"), JsonFields.number(what, n, "stored"), JsonFields.strings(what, n, "labels"));
        } catch (IllegalArgumentException e) {
            throw new CorruptObjectException(what, "an entry is not valid (" + e.getMessage() + ")", e);
        }
    }
}
