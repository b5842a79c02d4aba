package dev.zenith.server.domain;

import io.vertx.core.json.DecodeException;

/** What is wrong with JSON text that did not parse, said shortly, with where (line, column). */
public final class JsonProblem {
    private JsonProblem() {
    }

    public static String of(DecodeException e) {
        if (e.getCause() instanceof com.fasterxml.jackson.core.JsonProcessingException j) {
            String what = j.getOriginalMessage().replaceAll("\\s*\\(start marker at .*", "").strip();
            var at = j.getLocation();
            return at == null ? what : what + " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")";
        }
        return e.getMessage();
    }
}
