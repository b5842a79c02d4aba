package dev.zenith.objectstore.format;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;

/** Strict reading of the JSON inside our objects: a missing or mistyped field is a CorruptObjectException naming the object. */
public final class JsonFields {
    private JsonFields() {
    }

    public static JsonNode field(String what, JsonNode node, String name) {
        JsonNode n = node.get(name);
        if (n == null) {
            throw new CorruptObjectException(what, "no field '" + name + "'");
        }
        return n;
    }

    public static String text(String what, JsonNode node, String name) {
        return typed(what, node, name, JsonNode::isTextual, "a string").asText();
    }

    /** A string, or null when the field is JSON null. */
    public static String textOrNull(String what, JsonNode node, String name) {
        JsonNode n = field(what, node, name);
        return n.isNull() ? null : text(what, node, name);
    }

    public static long number(String what, JsonNode node, String name) {
        return typed(what, node, name, JsonNode::isIntegralNumber, "a whole number").asLong();
    }

    public static boolean bool(String what, JsonNode node, String name) {
        return typed(what, node, name, JsonNode::isBoolean, "true or false").asBoolean();
    }

    public static JsonNode array(String what, JsonNode node, String name) {
        return typed(what, node, name, JsonNode::isArray, "an array");
    }

    public static JsonNode object(String what, JsonNode node, String name) {
        return typed(what, node, name, JsonNode::isObject, "an object");
    }

    private static JsonNode typed(String what, JsonNode node, String name, Predicate<JsonNode> is, String type) {
        JsonNode n = field(what, node, name);
        if (!is.test(n)) {
            throw new CorruptObjectException(what, "field '" + name + "' is not " + type);
        }
        return n;
    }

    /** A string-to-string object. */
    public static Map<String, String> strings(String what, JsonNode node, String name) {
        Map<String, String> out = new LinkedHashMap<>();
        object(what, node, name).fields().forEachRemaining(f -> {
            if (!f.getValue().isTextual()) {
                throw new CorruptObjectException(what, "'" + name + "." + f.getKey() + "' is not a string");
            }
            out.put(f.getKey(), f.getValue().asText());
        });
        return out;
    }

    /** Writes a string-to-string object in key order (so equal maps are equal bytes). */
    public static void putStrings(ObjectNode node, String name, Map<String, String> values) {
        ObjectNode o = node.putObject(name);
        new TreeMap<>(values).forEach(o::put);
    }
}
