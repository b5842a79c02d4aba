package dev.zenith.objectstore.format;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.zenith.objectstore.format.Manifest.Entry;
import dev.zenith.objectstore.format.ObjectNames.ManifestName;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
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
        for (Entry e : m.added()) {
            ObjectNode n = added.addObject();
            n.put("key", e.key());
            n.put("sha256", e.hash().hex());
            n.put("length", e.contentLength());
            n.put("stored", e.storedLength());
            ObjectNode labels = n.putObject("labels");
            new java.util.TreeMap<>(e.labels()).forEach(labels::put);
        }
        ArrayNode removed = root.putArray("removed");
        m.removed().forEach(removed::add);
        ObjectNode props = root.putObject("properties");
        new java.util.TreeMap<>(m.properties()).forEach(props::put);
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
                Map<String, String> labels = new LinkedHashMap<>();
                Iterator<Map.Entry<String, JsonNode>> it = field(what, n, "labels").fields();
                it.forEachRemaining(f -> labels.put(f.getKey(), f.getValue().asText()));
                added.add(new Entry(text(what, n, "key"), ContentHash.parse(text(what, n, "sha256")),
                        field(what, n, "length").asLong(-1), field(what, n, "stored").asLong(-1), labels));
            }
            List<String> removed = new ArrayList<>();
            array(what, root, "removed").forEach(n -> removed.add(n.asText()));
            Map<String, String> properties = new LinkedHashMap<>();
            field(what, root, "properties").fields().forEachRemaining(f -> properties.put(f.getKey(), f.getValue().asText()));
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

    private static JsonNode field(String what, JsonNode node, String name) {
        JsonNode n = node.get(name);
        if (n == null) {
            throw new CorruptObjectException(what, "no field '" + name + "'");
        }
        return n;
    }

    private static String text(String what, JsonNode node, String name) {
        JsonNode n = field(what, node, name);
        if (!n.isTextual()) {
            throw new CorruptObjectException(what, "field '" + name + "' is not a string");
        }
        return n.asText();
    }

    private static JsonNode array(String what, JsonNode node, String name) {
        JsonNode n = field(what, node, name);
        if (!n.isArray()) {
            throw new CorruptObjectException(what, "field '" + name + "' is not an array");
        }
        return n;
    }
}
