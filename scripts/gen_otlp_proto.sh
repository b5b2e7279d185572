#!/usr/bin/env bash
# Regenerates src/otlp/otlp_subset.pb-c.{c,h} from src/otlp/otlp_subset.proto.
#
# The generated files are checked in, so building streamlake needs only the
# protobuf-c runtime (libprotobuf-c-dev); running this script needs protoc
# (protobuf-compiler) and the protobuf-c plugin (protobuf-c-compiler, which
# installs protoc-gen-c).  PROTOC_GEN_C may name the plugin if it is not on PATH.
set -euo pipefail
cd "$(dirname "$0")/../src/otlp"
plugin=${PROTOC_GEN_C:-$(command -v protoc-gen-c)}
protoc --plugin=protoc-gen-c="$plugin" --c_out=. otlp_subset.proto
echo "regenerated src/otlp/otlp_subset.pb-c.c and .h"
