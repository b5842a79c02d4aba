package dev.zenith.protocol.replication;

import dev.zenith.protocol.replication.ReplicationCommand.*;
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
    private static final Set<String> TRUE_WORDS = Set.of("true", "on", "yes", "t", "1", "y");
    private static final Set<String> FALSE_WORDS = Set.of("false", "off", "no", "f", "0", "n");
    private static final Set<String> MANIFEST_CHECKSUMS = Set.of("NONE", "CRC32C", "SHA224", "SHA256", "SHA384",
            "SHA512");

    private enum T { WORD, QUOTED_IDENT, STRING, NUMBER, LSN, PUNCT, END }

    private record Token(T type, String text, int pos) {
        boolean isKeyword(String kw) {
            return type == T.WORD && text.equalsIgnoreCase(kw);
        }

        boolean isPunct(char c) {
            return type == T.PUNCT && text.charAt(0) == c;
        }

        String describe() {
            return switch (type) {
                case END -> "end of input";
                case STRING -> "'" + text + "'";
                case QUOTED_IDENT -> "\"" + text + "\"";
                default -> "\"" + text + "\"";
            };
        }
    }

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
        ReplicationCommandParser p = new ReplicationCommandParser(tokenize(query));
        ReplicationCommand c = p.command();
        if (p.peek().isPunct(';')) {
            p.at++;
        }
        p.expectEnd();
        return c;
    }

    // ---------------- scanner ----------------

    private static ReplicationCommandException error(String msg) {
        return new ReplicationCommandException(msg);
    }

    private static List<Token> tokenize(String s) {
        List<Token> out = new ArrayList<>();
        int i = 0;
        int n = s.length();
        while (i < n) {
            char c = s.charAt(i);
            if (Character.isWhitespace(c)) {
                i++;
            } else if (c == '-' && i + 1 < n && s.charAt(i + 1) == '-') {
                while (i < n && s.charAt(i) != '\n') {
                    i++;
                }
            } else if (c == '\'' || c == '"') {
                StringBuilder sb = new StringBuilder();
                int start = i++;
                while (true) {
                    if (i >= n) {
                        throw error(c == '\'' ? "unterminated quoted string" : "unterminated quoted identifier");
                    }
                    char d = s.charAt(i++);
                    if (d == c) {
                        if (i < n && s.charAt(i) == c) {
                            sb.append(c);
                            i++;
                        } else {
                            break;
                        }
                    } else {
                        sb.append(d);
                    }
                }
                // "" is an empty identifier here: PostgreSQL's replication scanner, unlike SQL's, lets it
                // through to the command (CREATE_REPLICATION_SLOT "" says the name is too short)
                out.add(new Token(c == '\'' ? T.STRING : T.QUOTED_IDENT, sb.toString(), start));
            } else if ("(),.;".indexOf(c) >= 0) {
                out.add(new Token(T.PUNCT, String.valueOf(c), i++));
            } else if (isHex(c) || c == '-' || c == '+') {
                int start = i;
                int j = i + ((c == '-' || c == '+') ? 1 : 0);
                int hexEnd = j;
                while (hexEnd < n && isHex(s.charAt(hexEnd))) {
                    hexEnd++;
                }
                if (j == i && hexEnd > j && hexEnd < n && s.charAt(hexEnd) == '/') {
                    int k = hexEnd + 1;
                    while (k < n && isHex(s.charAt(k))) {
                        k++;
                    }
                    if (k > hexEnd + 1) {
                        out.add(new Token(T.LSN, s.substring(start, k), start));
                        i = k;
                        continue;
                    }
                }
                int k = j;
                while (k < n && (Character.isDigit(s.charAt(k)) || s.charAt(k) == '.')) {
                    k++;
                }
                if (k > j && (k >= n || !isIdentChar(s.charAt(k)))) {
                    out.add(new Token(T.NUMBER, s.substring(start, k), start));
                    i = k;
                } else if (j == i && isIdentStart(c)) {
                    i = word(s, i, out);
                } else {
                    throw error("syntax error at or near \"" + s.substring(start, Math.min(n, Math.max(k, start + 1))) + "\"");
                }
            } else if (isIdentStart(c)) {
                i = word(s, i, out);
            } else {
                throw error("syntax error: unexpected character \"" + c + "\"");
            }
        }
        out.add(new Token(T.END, "", n));
        return out;
    }

    private static int word(String s, int i, List<Token> out) {
        int start = i;
        while (i < s.length() && isIdentChar(s.charAt(i))) {
            i++;
        }
        out.add(new Token(T.WORD, s.substring(start, i), start));
        return i;
    }

    private static boolean isHex(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    }

    private static boolean isIdentStart(char c) {
        return Character.isLetter(c) || c == '_' || c >= 0x80;
    }

    private static boolean isIdentChar(char c) {
        return isIdentStart(c) || Character.isDigit(c) || c == '$';
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

    /** A generic option value: a string, a (signed) number, or a word; null when absent. */
    private record Option(String name, String value, Token at) {
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

    private static boolean bool(Option o) {
        if (o.value() == null) {
            return true;
        }
        String v = o.value().toLowerCase(Locale.ROOT);
        if (TRUE_WORDS.contains(v)) {
            return true;
        }
        if (FALSE_WORDS.contains(v)) {
            return false;
        }
        throw error(o.name() + " requires a Boolean value");
    }

    private static String stringValue(Option o) {
        if (o.value() == null) {
            throw error(o.name() + " requires a parameter");
        }
        return o.value();
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
                        reserveWal = bool(o);
                    }
                    case "snapshot" -> {
                        if (!logical) {
                            throw error("unrecognized option: " + o.name());
                        }
                        snapshot = stringValue(o);
                        if (!Set.of("export", "nothing", "use").contains(snapshot)) {
                            throw error("unrecognized value for CREATE_REPLICATION_SLOT option \"snapshot\": \"" + snapshot + "\"");
                        }
                    }
                    case "two_phase" -> {
                        if (!logical) {
                            throw error("unrecognized option: " + o.name());
                        }
                        twoPhase = bool(o);
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
        return baseBackupOptions(options);
    }

    private static BaseBackupOptions baseBackupOptions(List<Option> options) {
        BaseBackupOptions d = BaseBackupOptions.defaults();
        String label = d.label();
        boolean progress = d.progress();
        Checkpoint checkpoint = d.checkpoint();
        boolean wal = d.includeWal();
        boolean wait = d.waitForWalArchive();
        int maxRate = d.maxRate();
        boolean tablespaceMap = d.tablespaceMap();
        boolean verify = d.verifyChecksums();
        Manifest manifest = d.manifest();
        String manifestChecksums = d.manifestChecksums();
        boolean manifestChecksumsSet = false;
        String target = d.target();
        String targetDetail = d.targetDetail();
        String compression = d.compression();
        String compressionDetail = d.compressionDetail();
        Set<String> seen = new java.util.HashSet<>();
        for (Option o : options) {
            if (!seen.add(o.name())) {
                throw error("duplicate option \"" + o.name() + "\"");
            }
            switch (o.name()) {
                case "label" -> label = stringValue(o);
                case "progress" -> progress = bool(o);
                case "checkpoint" -> {
                    String v = stringValue(o).toLowerCase(Locale.ROOT);
                    checkpoint = switch (v) {
                        case "fast" -> Checkpoint.FAST;
                        case "spread" -> Checkpoint.SPREAD;
                        default -> throw error("unrecognized checkpoint type: \"" + o.value() + "\"");
                    };
                }
                case "wal" -> wal = bool(o);
                case "wait" -> wait = bool(o);
                case "max_rate" -> {
                    long v;
                    try {
                        v = Long.parseLong(stringValue(o));
                    } catch (NumberFormatException e) {
                        throw error("max_rate requires an integer value");
                    }
                    if (v < 32 || v > 1048576) {
                        throw error(v + " is outside the valid range for parameter \"max_rate\" (32 .. 1048576)");
                    }
                    maxRate = (int) v;
                }
                case "tablespace_map" -> tablespaceMap = bool(o);
                case "verify_checksums" -> verify = bool(o);
                case "manifest" -> {
                    String v = stringValue(o).toLowerCase(Locale.ROOT);
                    if (v.equals("force-encode")) {
                        manifest = Manifest.FORCE_ENCODE;
                    } else if (TRUE_WORDS.contains(v)) {
                        manifest = Manifest.YES;
                    } else if (FALSE_WORDS.contains(v)) {
                        manifest = Manifest.NO;
                    } else {
                        throw error("unrecognized manifest option: \"" + o.value() + "\"");
                    }
                }
                case "manifest_checksums" -> {
                    String v = stringValue(o).toUpperCase(Locale.ROOT).replace("-", "");
                    if (!MANIFEST_CHECKSUMS.contains(v)) {
                        throw error("unrecognized checksum algorithm: \"" + o.value() + "\"");
                    }
                    manifestChecksums = v;
                    manifestChecksumsSet = true;
                }
                case "target" -> target = stringValue(o).toLowerCase(Locale.ROOT);
                case "target_detail" -> targetDetail = stringValue(o);
                case "compression" -> compression = stringValue(o).toLowerCase(Locale.ROOT);
                case "compression_detail" -> compressionDetail = stringValue(o);
                default -> throw error("unrecognized base backup option: \"" + o.name() + "\"");
            }
        }
        if (manifest == Manifest.NO && manifestChecksumsSet) {
            throw error("manifest checksums require a backup manifest");
        }
        if (targetDetail != null && !seen.contains("target")) {
            throw error("target detail cannot be used without target");
        }
        if (compressionDetail != null && !seen.contains("compression")) {
            throw error("compression detail cannot be specified unless compression is enabled");
        }
        return new BaseBackupOptions(label, progress, checkpoint, wal, wait, maxRate, tablespaceMap, verify, manifest,
                manifestChecksums, target, targetDetail, compression, compressionDetail);
    }
}
