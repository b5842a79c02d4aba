package dev.zenith.cli.terminal;

import dev.zenith.cli.ProgressBars;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.io.PrintStream;
import java.time.temporal.ChronoUnit;

/** Progress bars drawn by me.tongfei progressbar: MiB done of the total, rate and ETA. */
final class TerminalBars implements ProgressBars {
    @Override
    public Bar open(String label, long total, PrintStream err, int width) {
        ProgressBar bar = new ProgressBarBuilder().setTaskName(label).setInitialMax(total)
                .setStyle(ProgressBarStyle.ASCII).setUnit(" MiB", 1 << 20).showSpeed()
                .setUpdateIntervalMillis(200).setMaxRenderedLength(width).continuousUpdate()
                .setConsumer(new ConsoleProgressBarConsumer(err)).setSpeedUnit(ChronoUnit.SECONDS).build();
        return new Bar() {
            @Override
            public void update(long done, long max) {
                bar.maxHint(max);
                bar.stepTo(Math.min(max, done));
            }

            @Override
            public void finish() {
                bar.stepTo(bar.getMax());
                bar.close();
            }

            @Override
            public void close() {
                bar.close();
            }
        };
    }
}
