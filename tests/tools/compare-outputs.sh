#!/usr/bin/env bash
# Proof that a refactoring changed no per-tree value and no export: the CLI built before (BEFORE) and after (AFTER)
# the change scan the bundled sample and export every format from the same store, with the run's own profile and with
# another one (--prescription); exit 0 when all is identical (map.gpkg: every row but its write time).
# Usage: tests/tools/compare-outputs.sh BEFORE_CLI_DIR AFTER_CLI_DIR WORKDIR REPO
#   (each CLI_DIR from `git worktree add ... REV && dotnet publish src/TreeScout.Cli -c Release -o CLI_DIR`; needs sqlite3)
set -euo pipefail
before=$1 after=$2 work=$3 repo=$4
sample=$repo/samples/betuwe-rtk-2x12
gala=$repo/src/TreeScout.MapWriter/Varieties/gala.yaml
status=0
same() { if cmp -s "$1" "$2"; then echo "identical  $3"; else echo "DIFFERENT  $3"; status=1; fi; }
# map.gpkg embeds gpkg_contents.last_change (the time the zones layer was written): everything else must be equal.
dump() { sqlite3 "$1" .dump | sed -E "s/'[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z'/'<last_change>'/"; }

for cli in before after; do
  [ -d "$work/scan-$cli" ] || "${!cli}/treescout" scan "$sample" --out "$work/scan-$cli" > "$work/scan-$cli.log"
done
# The scans' per-tree values: trees.csv and the store's trees table (run ids and times differ between two scans).
same "$work/scan-before/exports/trees.csv" "$work/scan-after/exports/trees.csv" "scan: exports/trees.csv"
cols="tree_id, row_id, tree_index, in_plan, spacing_m, clusters_total, bbch53, bbch54, bbch56, bbch57, bbch59, bbch61, bbch65, bbch67, bbch69, bbch71, clusters_low_confidence, frames_seen, density_per_m, confidence, mean_score, excess, dose_pct, rate_l_ha, zone_class, hex(geom)"
for cli in before after; do sqlite3 "$work/scan-$cli/store.gpkg" "SELECT $cols FROM trees ORDER BY tree_id" > "$work/trees-$cli.txt"; done
same "$work/trees-before.txt" "$work/trees-after.txt" "scan: store.gpkg trees table, every column ($(wc -l < "$work/trees-before.txt") trees)"
# Observation ids and times derive from the run id and clock; every other field of every stored cluster must match.
obs="SELECT tree_id, stage, score, hex(geom), low_confidence, first_frame, last_frame, camera_id, sigma_m, gnss_quality FROM observations ORDER BY 1, 6, 7, 2, 3, 4"
for cli in before after; do sqlite3 "$work/scan-$cli/store.gpkg" "$obs" > "$work/observations-$cli.txt"; done
same "$work/observations-before.txt" "$work/observations-after.txt" "scan: store.gpkg observations ($(wc -l < "$work/observations-before.txt") clusters, all but id and time)"

# Every format exported by both CLIs from one store (a copy of the before-scan's, so neither run touches it).
cp "$work/scan-before/store.gpkg" "$work/store.gpkg"
sha_store=$(sha256sum < "$work/store.gpkg")
for variant in own gala; do
  extra=(); [ $variant = gala ] && extra=(--prescription "$gala")
  for cli in before after; do
    rm -rf "$work/export-$variant-$cli"
    "${!cli}/treescout" export --run "$work/store.gpkg" --out "$work/export-$variant-$cli" "${extra[@]}" > /dev/null
  done
  (cd "$work/export-$variant-before" && find . -type f | sort) > "$work/files-$variant.txt"
  (cd "$work/export-$variant-after" && find . -type f | sort) | diff - "$work/files-$variant.txt" > /dev/null || { echo "DIFFERENT  $variant: file lists"; status=1; }
  while read -r f; do
    if [ "$f" = ./map.gpkg ]; then
      dump "$work/export-$variant-before/$f" > "$work/map-$variant-before.sql"
      dump "$work/export-$variant-after/$f" > "$work/map-$variant-after.sql"
      same "$work/map-$variant-before.sql" "$work/map-$variant-after.sql" "export ($variant profile): $f, every row of every table except gpkg_contents.last_change"
    else
      same "$work/export-$variant-before/$f" "$work/export-$variant-after/$f" "export ($variant profile): $f"
    fi
  done < "$work/files-$variant.txt"
done
[ "$(sha256sum < "$work/store.gpkg")" = "$sha_store" ] && echo "identical  the exported store.gpkg itself, before and after both exports" || { echo "DIFFERENT  the exported store changed"; status=1; }
exit $status
