#!/bin/sh
# The image's entrypoint: the first argument selects the process; the rest are its arguments.
#   capture | detection | fusion | mapwriter   a worker (health on :8080, configuration from TREESCOUT__ variables)
#   console                                    the console (cab screen and run maps, TREESCOUT__Console__ settings)
#   central-ingest                             the central site's ingest worker (docs/central.md, TREESCOUT__Central__ settings)
#   cli ARGS...                                the treescout command (run start/stop/status, health, ...)
# exec: the process is PID 1's replacement and gets SIGTERM directly, so graceful shutdown works.
set -eu
case "${1:-}" in
  capture) shift; exec /app/capture/TreeScout.Capture "$@" ;;
  detection) shift; exec /app/detection/TreeScout.Detection "$@" ;;
  fusion) shift; exec /app/fusion/TreeScout.Fusion "$@" ;;
  mapwriter) shift; exec /app/mapwriter/TreeScout.MapWriter "$@" ;;
  console) shift; exec /app/console/TreeScout.Console "$@" ;;
  central-ingest) shift; exec /app/central-ingest/TreeScout.Central "$@" ;;
  cli) shift; exec /app/cli/treescout "$@" ;;
  *)
    echo "treescout image: first argument must be capture, detection, fusion, mapwriter, console, central-ingest or cli (got '${1:-}')" >&2
    exit 64
    ;;
esac
