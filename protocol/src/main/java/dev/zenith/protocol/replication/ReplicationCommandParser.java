package dev.zenith.protocol.replication;

import dev.zenith.protocol.replication.ReplicationCommand.*;
import dev.zenith.protocol.replication.ReplicationCommandScanner.T;
import dev.zenith.protocol.replication.ReplicationCommandScanner.Token;
import dev.zenith.protocol.replication.ReplicationOptions.Option;
import dev.zenith.wal.Lsn;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Parses the commands PostgreSQL 15 clients send on a replication connection, following
 * repl_scanner.l / repl_gram.y: keywords are case-insensitive, identifiers are lower-cased unless
 * double-quoted, strings are single-quoted with '' escapes, LSNs are {@code X/Y} in hex, and a
 * trailing semicolon is allowed. Both the PostgreSQL 15 parenthesized option lists and the older
 * keyword forms are accepted. Input whose first word is not a replication keyword is plain SQL.
 * Every error is a {@link ReplicationCommandException} (SQLSTATE 42601).
 */
public final class ReplicationCommandParser {
    private static final Set<String> COMMANDS = Set.of("IDENTIFY_SYSTEM", "SHOW", "TIMELINE_HISTORY",
            "START_REPLICATION", "READ_REPLICATION_SLOT", "CREATE_REPLICATION_SLOT", "DROP_REPLICATION_SLOT",
            "BASE_BACKUP");

    private final List<Token> tokens;
    private int at;

    private ReplicationCommandParser(List<Token> tokens) {
        this.tokens = tokens;
    }

    /** True when PostgreSQL's walsender would treat {@code query} as a replication command (not SQL). */
    public static boolean isReplicationCommand(String query) {
        int i = 0;
        while (i < query.length() && Character.isWhitespace(query.charAt(i))) {
            i++;
        }
        int j = i;
        while (j < query.length() && (Character.isLetterOrDigit(query.charAt(j)) || query.charAt(j) == '_')) {
            j++;
        }
        return COMMANDS.contains(query.substring(i, j).toUpperCase(Locale.ROOT));
    }

    public static ReplicationCommand parse(String query) {
        if (!isReplicationCommand(query)) {
            return new Sql(query);
        }
        ReplicationCommandParser p = new ReplicationCommandParser(ReplicationCommandScanner.tokenize(query));
        ReplicationCommand c = p.command();
        if (p.peek().isPunct(';')) {
            p.at++;
        }
        p.expectEnd();
        return c;
    }

    private static ReplicationCommandException error(String msg) {
        return new ReplicationCommandException(msg);
    }

    // ---------------- parser ----------------

    private Token peek() {
        return tokens.get(at);
    }

    private Token next() {
        return tokens.get(at++);
    }

    private ReplicationCommandException syntax(Token t) {
        return error("syntax error at or near " + t.describe());
    }

    private void expectEnd() {
        if (peek().type() != T.END) {
            throw syntax(peek());
        }
    }

    private boolean accept(String keyword) {
        if (peek().isKeyword(keyword)) {
            at++;
            return true;
        }
        return false;
    }

    private void expect(String keyword) {
        if (!accept(keyword)) {
            throw syntax(peek());
        }
    }

    private boolean acceptPunct(char c) {
        if (peek().isPunct(c)) {
            at++;
            return true;
        }
        return false;
    }

    private void expectPunct(char c) {
        if (!acceptPunct(c)) {
            throw syntax(peek());
        }
    }

    /** An identifier: unquoted words are lower-cased (keywords included), quoted ones kept as written. */
    private String identifier() {
        Token t = next();
        if (t.type() == T.WORD) {
            return t.text().toLowerCase(Locale.ROOT);
        }
        if (t.type() == T.QUOTED_IDENT) {
            return t.text();
        }
        throw syntax(t);
    }

    private int unsignedInt(String what) {
        Token t = next();
        if (t.type() != T.NUMBER || !t.text().chars().allMatch(Character::isDigit)) {
            throw syntax(t);
        }
        try {
            long v = Long.parseLong(t.text());
            if (v > 0xFFFFFFFFL) {
                throw error(what + " " + t.text() + " is out of range");
            }
            return (int) v;
        } catch (NumberFormatException e) {
            throw error(what + " " + t.text() + " is out of range");
        }
    }

    private Lsn lsn() {
        Token t = next();
        if (t.type() != T.LSN) {
            throw syntax(t);
        }
        try {
            return Lsn.parse(t.text());
        } catch (IllegalArgumentException e) {
            throw error("invalid WAL location \"" + t.text() + "\"");
        }
    }

    private String string() {
        Token t = next();
        if (t.type() != T.STRING) {
            throw syntax(t);
        }
        return t.text();
    }

    private ReplicationCommand command() {
        Token first = next();
        String kw = first.text().toUpperCase(Locale.ROOT);
        switch (kw) {
            case "IDENTIFY_SYSTEM":
                return new IdentifySystem();
            case "SHOW": {
                StringBuilder name = new StringBuilder(identifier());
                while (acceptPunct('.')) {
                    name.append('.').append(identifier());
                }
                return new Show(name.toString());
            }
            case "TIMELINE_HISTORY": {
                int tli = unsignedInt("timeline");
                if (tli <= 0) {
                    throw error("invalid timeline " + Integer.toUnsignedString(tli));
                }
                return new TimelineHistory(tli);
            }
            case "READ_REPLICATION_SLOT":
                return new ReadReplicationSlot(identifier());
            case "DROP_REPLICATION_SLOT": {
                String slot = identifier();
                return new DropReplicationSlot(slot, accept("WAIT"));
            }
            case "START_REPLICATION":
                return startReplication();
            case "CREATE_REPLICATION_SLOT":
                return createSlot();
            case "BASE_BACKUP":
                return new BaseBackup(baseBackup());
            default:
                throw syntax(first);
        }
    }

    private ReplicationCommand startReplication() {
        String slot = null;
        if (accept("SLOT")) {
            slot = identifier();
        }
        if (accept("LOGICAL")) {
            if (slot == null) {
                throw error("syntax error: START_REPLICATION LOGICAL requires SLOT");
            }
            Lsn start = lsn();
            Map<String, String> options = new LinkedHashMap<>();
            if (acceptPunct('(')) {
                do {
                    String name = identifier();
                    String value = peek().type() == T.STRING ? string() : null;
                    options.put(name, value);
                } while (acceptPunct(','));
                expectPunct(')');
            }
            return new StartReplication(slot, true, start, null, options);
        }
        accept("PHYSICAL");
        Lsn start = lsn();
        Integer tli = null;
        if (accept("TIMELINE")) {
            tli = unsignedInt("timeline");
            if (tli <= 0) {
                throw error("invalid timeline " + Integer.toUnsignedString(tli));
            }
        }
        return new StartReplication(slot, false, start, tli, Map.of());
    }

    private List<Option> genericOptions() {
        List<Option> options = new ArrayList<>();
        if (peek().isPunct(')')) {
            return options;
        }
        do {
            Token nameTok = peek();
            String name = identifier();
            Token v = peek();
            String value = null;
            if (v.type() == T.STRING || v.type() == T.NUMBER || v.type() == T.WORD || v.type() == T.QUOTED_IDENT) {
                at++;
                value = v.type() == T.WORD ? v.text().toLowerCase(Locale.ROOT) : v.text();
            }
            options.add(new Option(name, value, nameTok));
        } while (acceptPunct(','));
        return options;
    }

    private ReplicationCommand createSlot() {
        String slot = identifier();
        boolean temporary = accept("TEMPORARY");
        boolean logical;
        String plugin = null;
        if (accept("PHYSICAL")) {
            logical = false;
        } else if (accept("LOGICAL")) {
            logical = true;
            plugin = identifier();
        } else {
            throw syntax(peek());
        }
        boolean reserveWal = false;
        boolean twoPhase = false;
        String snapshot = null;
        if (acceptPunct('(')) {
            Set<String> seen = new java.util.HashSet<>();
            for (Option o : genericOptions()) {
                if (!seen.add(o.name())) {
                    throw error("conflicting or redundant options");
                }
                switch (o.name()) {
                    case "reserve_wal" -> {
                        if (logical) {
                            throw error("unrecognized option: " + o.name());
                        }
                        reserveWal = ReplicationOptions.bool(o);
                    }
                    case "snapshot" -> {
                        if (!logical) {
                            throw error("unrecognized option: " + o.name());
                        }
                        snapshot = ReplicationOptions.stringValue(o);
                        if (!Set.of("export", "nothing", "use").contains(snapshot)) {
                            throw error("unrecognized value for CREATE_REPLICATION_SLOT option \"snapshot\": \"" + snapshot + "\"");
                        }
                    }
                    case "two_phase" -> {
                        if (!logical) {
                            throw error("unrecognized option: " + o.name());
                        }
                        twoPhase = ReplicationOptions.bool(o);
                    }
                    default -> throw error("unrecognized option: " + o.name());
                }
            }
            expectPunct(')');
        } else {
            while (true) {
                if (accept("RESERVE_WAL")) {
                    reserveWal = true;
                } else if (accept("EXPORT_SNAPSHOT")) {
                    snapshot = "export";
                } else if (accept("NOEXPORT_SNAPSHOT")) {
                    snapshot = "nothing";
                } else if (accept("USE_SNAPSHOT")) {
                    snapshot = "use";
                } else if (accept("TWO_PHASE")) {
                    twoPhase = true;
                } else {
                    break;
                }
            }
            if (!logical && (snapshot != null || twoPhase)) {
                throw error("syntax error: snapshot and TWO_PHASE options apply to logical slots only");
            }
            if (logical && reserveWal) {
                throw error("syntax error: RESERVE_WAL applies to physical slots only");
            }
        }
        return new CreateReplicationSlot(slot, temporary, logical, plugin, reserveWal, snapshot, twoPhase);
    }

    private BaseBackupOptions baseBackup() {
        List<Option> options = new ArrayList<>();
        if (acceptPunct('(')) {
            options = genericOptions();
            expectPunct(')');
        } else {
            // the keyword form of PostgreSQL 14 and older clients, mapped onto the generic names
            while (peek().type() == T.WORD) {
                Token t = next();
                switch (t.text().toUpperCase(Locale.ROOT)) {
                    case "LABEL" -> options.add(new Option("label", string(), t));
                    case "PROGRESS" -> options.add(new Option("progress", null, t));
                    case "FAST" -> options.add(new Option("checkpoint", "fast", t));
                    case "WAL" -> options.add(new Option("wal", null, t));
                    case "NOWAIT" -> options.add(new Option("wait", "false", t));
                    case "MAX_RATE" -> options.add(new Option("max_rate", Integer.toUnsignedString(unsignedInt("MAX_RATE")), t));
                    case "TABLESPACE_MAP" -> options.add(new Option("tablespace_map", null, t));
                    case "NOVERIFY_CHECKSUMS" -> options.add(new Option("verify_checksums", "false", t));
                    case "MANIFEST" -> options.add(new Option("manifest", string(), t));
                    case "MANIFEST_CHECKSUMS" -> options.add(new Option("manifest_checksums", string(), t));
                    default -> throw syntax(t);
                }
            }
        }
        return ReplicationOptions.baseBackup(options);
    }
}
