package dev.zenith.protocol.replication;

import java.util.ArrayList;
import java.util.List;

/**
 * The tokens of a replication command, as PostgreSQL 15's repl_scanner.l cuts them: words, quoted
 * identifiers, strings with '' escapes, numbers, LSNs ({@code X/Y} in hex), punctuation; {@code --}
 * comments are skipped. A character it does not know is a {@link ReplicationCommandException}.
 */
final class ReplicationCommandScanner {
    enum T { WORD, QUOTED_IDENT, STRING, NUMBER, LSN, PUNCT, END }

    record Token(T type, String text, int pos) {
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

    private ReplicationCommandScanner() {
    }

    private static ReplicationCommandException error(String msg) {
        return new ReplicationCommandException(msg);
    }

    static List<Token> tokenize(String s) {
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
}
