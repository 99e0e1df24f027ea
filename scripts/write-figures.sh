#!/usr/bin/env bash
# Writes the figures of a full scripts/test.sh run (its log) as Markdown: when and where it
# ran, each part's time, every RELIABILITY line the tests printed on each kernel, the
# LeakSanitizer control and the fuzzers' execution counts. The README cites the result,
# Figures/test-run.md; nothing in it is typed by hand.
#
#   scripts/write-figures.sh RUN_LOG OUTPUT
set -euo pipefail
log=$1
out=$2
cd "$(dirname "$0")/.."
commit=$(scripts/commit-label.sh)
mkdir -p "$(dirname "$out")"  # Figures/ is not in a clone until a run's figures are committed.
{
    echo "# Figures from the last full run of scripts/test.sh"
    echo
    echo "Written by \`scripts/write-figures.sh\` from the log of a full \`scripts/test.sh\` run: $(date -u '+%Y-%m-%d %H:%M UTC'),"
    echo "commit $commit, kernel $(uname -r), $(nproc) CPUs."
    echo
    echo "## Time per part"
    echo
    echo "| part | started at (s) | took (s) |"
    echo "|---|---:|---:|"
    # PART_TIME name<TAB>start<TAB>took, one per part; the guests run beside other parts.
    grep -a '^PART_TIME ' "$log" | sed 's/^PART_TIME //' | sort -t "$(printf '\t')" -k2,2n -s |
        awk -F '\t' '{ printf "| %s | %d | %d |\n", $1, $2, $3; if ($2 + $3 > end) end = $2 + $3 } END { printf "| all | 0 | %d |\n", end }'
    echo
    # Each kernel's part starts with a "== the test suite on ..." line (a guest's whole output
    # follows its line, added when the guest is collected); the RELIABILITY lines
    # after it are that kernel's. The exporter's part reports its ENDURANCE line likewise.
    awk '
        /^== (the test suite on |the exporter)/ { sub(/^== /, ""); sub(/ \(at [0-9]+ s\)$/, ""); section = $0; printf "## %s\n\n", section; next }
        /^== / { section = "" }
        section != "" && /(RELIABILITY|ENDURANCE) / { sub(/.*(RELIABILITY|ENDURANCE) /, ""); printf "- %s\n", $0 }
        section != "" && /Executed [0-9]+ tests?, with/ { line = $0 }
        section != "" && /^Test Suite .All tests. (passed|failed)/ { getline; sub(/^[ \t]+/, ""); printf "- all tests: %s\n\n", $0 }
    ' "$log"
    echo "## LeakSanitizer's negative control"
    echo
    { grep -a '^LEAK_CONTROL ' "$log" || echo 'LEAK_CONTROL (not in this log)'; } | sed 's/^LEAK_CONTROL /- /'
    echo
    echo "## Fuzzing"
    echo
    echo "| target | executions | peak RSS (MB) |"
    echo "|---|---:|---:|"
    awk '
        /^== fuzzing the / { target = $4 }
        /stat::number_of_executed_units/ { runs[target] = $2 }
        /stat::peak_rss_mb/ { rss[target] = $2; order[++n] = target }
        END { for (i = 1; i <= n; i++) printf "| %s | %s | %s |\n", order[i], runs[order[i]], rss[order[i]] }
    ' "$log"
} >"$out"
echo "figures written to $out"
