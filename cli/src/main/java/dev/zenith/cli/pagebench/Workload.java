package dev.zenith.cli.pagebench;

import dev.zenith.protocol.pagestream.RelationKey;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Random keys over every block of every relation fork: each block equally likely, so a relation is
 * picked in proportion to its size.
 */
final class Workload {
    /** One block of one fork. */
    record Key(RelationKey rel, int block) {
    }

    private final List<RelationKey> rels = new ArrayList<>();
    /** cumulative[i]: blocks in rels[0..i]. */
    private final long[] cumulative;

    /** {@code sizes}: each fork with its number of blocks (empty forks are left out). */
    Workload(List<RelationKey> forks, List<Long> sizes) {
        long[] c = new long[forks.size()];
        long total = 0;
        for (int i = 0; i < forks.size(); i++) {
            if (sizes.get(i) <= 0) {
                continue;
            }
            total += sizes.get(i);
            c[rels.size()] = total;
            rels.add(forks.get(i));
        }
        if (total == 0) {
            throw new IllegalArgumentException("no relation has any block");
        }
        cumulative = Arrays.copyOf(c, rels.size());
    }

    long blocks() {
        return cumulative[cumulative.length - 1];
    }

    int relations() {
        return rels.size();
    }

    Key pick(Random random) {
        long n = (long) (random.nextDouble() * blocks());
        int i = Arrays.binarySearch(cumulative, n + 1);
        if (i < 0) {
            i = -i - 1;
        }
        long before = i == 0 ? 0 : cumulative[i - 1];
        return new Key(rels.get(i), (int) (n - before));
    }
}
