package dev.zenith.server.api;

import dev.zenith.server.domain.JsonProblem;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;

import java.util.Set;
import java.util.TreeSet;

/** Strict reading of a request body: a JSON object, only known fields, each of the right type. */
public final class JsonBody {
    private final JsonObject json;

    private JsonBody(JsonObject json) {
        this.json = json;
    }

    public static JsonBody parse(Buffer body, Set<String> allowedFields) {
        if (body == null || body.length() == 0) {
            throw ApiException.badRequest("request body must be a JSON object");
        }
        Object value;
        try {
            value = body.toJsonValue();
        } catch (DecodeException e) {
            throw ApiException.badRequest("malformed JSON: " + JsonProblem.of(e));
        }
        if (!(value instanceof JsonObject obj)) {
            throw ApiException.badRequest("request body must be a JSON object");
        }
        Set<String> unknown = new TreeSet<>(obj.fieldNames());
        unknown.removeAll(allowedFields);
        if (!unknown.isEmpty()) {
            throw ApiException.badRequest("unknown field(s) " + unknown + "; allowed: " + new TreeSet<>(allowedFields));
        }
        return new JsonBody(obj);
    }

    public String requiredString(String field) {
        String s = optionalString(field);
        if (s == null) {
            throw ApiException.badRequest("field '" + field + "' is required");
        }
        return s;
    }

    /**
     * A required string that must be one of {@code choices} (e.g. an action): anything else is a 400 naming what is
     * accepted, in the order given.
     */
    public String requiredChoice(String field, String... choices) {
        String value = requiredString(field);
        if (!java.util.Arrays.asList(choices).contains(value)) {
            throw ApiException.badRequest("unknown " + field + " '" + value + "'; expected " + spoken(choices));
        }
        return value;
    }

    public String optionalString(String field) {
        Object v = json.getValue(field);
        if (v == null) {
            return null;
        }
        if (!(v instanceof String s)) {
            throw ApiException.badRequest("field '" + field + "' must be a string");
        }
        return s;
    }

    /** A required array of strings (it may be empty). */
    public java.util.List<String> requiredStrings(String field) {
        Object v = json.getValue(field);
        if (v == null) {
            throw ApiException.badRequest("field '" + field + "' is required");
        }
        if (!(v instanceof io.vertx.core.json.JsonArray a) || a.stream().anyMatch(e -> !(e instanceof String))) {
            throw ApiException.badRequest("field '" + field + "' must be an array of strings");
        }
        return a.stream().map(String.class::cast).toList();
    }

    /** An optional object of string values whose names are among {@code names} (absent: empty). */
    public java.util.Map<String, String> optionalStrings(String field, Set<String> names) {
        Object v = json.getValue(field);
        if (v == null) {
            return java.util.Map.of();
        }
        if (!(v instanceof JsonObject o)) {
            throw ApiException.badRequest("field '" + field + "' must be an object of strings");
        }
        java.util.Map<String, String> out = new java.util.HashMap<>();
        for (String name : o.fieldNames()) {
            if (!names.contains(name)) {
                throw ApiException.badRequest("field '" + field + "' names '" + name + "'; allowed: " + new TreeSet<>(names));
            }
            if (!(o.getValue(name) instanceof String s)) {
                throw ApiException.badRequest("field '" + field + "." + name + "' must be a string");
            }
            out.put(name, s);
        }
        return out;
    }

    /** A whole number, or {@code fallback} when the field is absent. */
    public long optionalLong(String field, long fallback) {
        Object v = json.getValue(field);
        if (v == null) {
            return fallback;
        }
        if (!(v instanceof Integer || v instanceof Long)) {
            throw ApiException.badRequest("field '" + field + "' must be a whole number");
        }
        return ((Number) v).longValue();
    }

    public boolean optionalBoolean(String field, boolean fallback) {
        Boolean b = optionalBoolean(field);
        return b == null ? fallback : b;
    }

    /** The field's value, or null when it is absent (a caller's default may depend on other things). */
    public Boolean optionalBoolean(String field) {
        Object v = json.getValue(field);
        if (v == null) {
            return null;
        }
        if (!(v instanceof Boolean b)) {
            throw ApiException.badRequest("field '" + field + "' must be true or false");
        }
        return b;
    }

    /** "a", "a or b", "a, b or c". */
    private static String spoken(String... choices) {
        if (choices.length == 1) {
            return choices[0];
        }
        return String.join(", ", java.util.Arrays.copyOf(choices, choices.length - 1)) + " or " + choices[choices.length - 1];
    }
}
