package dev.zenith.server.config;

import io.vertx.core.json.JsonObject;

import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/** One object of the config file, read with errors that name the setting (a typo is an error, not a default). */
record ConfigSection(String name, JsonObject json) {
    static ConfigSection of(JsonObject root, String name, String... keys) {
        Object v = root.getValue(name);
        if (v == null) {
            return new ConfigSection(name, new JsonObject());
        }
        if (!(v instanceof JsonObject o)) {
            throw new IllegalArgumentException(name + " must be an object, got " + v);
        }
        Set<String> unknown = new TreeSet<>(o.fieldNames());
        unknown.removeAll(Set.of(keys));
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException("unknown setting(s) " + unknown.stream().map(k -> name + "." + k).toList()
                    + "; " + name + " has " + List.of(keys));
        }
        return new ConfigSection(name, o);
    }

    String string(String key, String fallback) {
        Object v = json.getValue(key);
        if (v == null) {
            return fallback;
        }
        if (!(v instanceof String s)) {
            throw new IllegalArgumentException(name + "." + key + " must be a string, got " + v);
        }
        return s;
    }

    long number(String key, long fallback, long min, long max) {
        Object v = json.getValue(key);
        if (v == null) {
            return fallback;
        }
        if (!(v instanceof Integer || v instanceof Long) || ((Number) v).longValue() < min || ((Number) v).longValue() > max) {
            throw new IllegalArgumentException(name + "." + key + " must be a whole number from " + min + " to " + max
                    + ", got " + (v instanceof String ? "\"" + v + "\"" : v));
        }
        return ((Number) v).longValue();
    }

    /** As {@link #number}, where 0 (the JVM's own default) is allowed besides min..max. */
    long numberOrZero(String key, long fallback, long min, long max) {
        Object v = json.getValue(key);
        if ((v instanceof Integer || v instanceof Long) && ((Number) v).longValue() == 0) {
            return 0;
        }
        try {
            return number(key, fallback, min, max);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(e.getMessage().replace(" must be a whole number from ",
                    " must be 0 (the JVM's default) or a whole number from "));
        }
    }

    boolean bool(String key, boolean fallback) {
        Object v = json.getValue(key);
        if (v == null) {
            return fallback;
        }
        if (!(v instanceof Boolean b)) {
            throw new IllegalArgumentException(name + "." + key + " must be true or false, got " + v);
        }
        return b;
    }

    JsonObject object(String key) {
        Object v = json.getValue(key);
        if (v == null) {
            return new JsonObject();
        }
        if (!(v instanceof JsonObject o)) {
            throw new IllegalArgumentException(name + "." + key + " must be an object, got " + v);
        }
        return o;
    }
}
