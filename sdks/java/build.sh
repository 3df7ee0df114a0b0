#!/usr/bin/env bash
# Builds the SDK with the JDK alone (17 or later) and runs its tests:
#   ./build.sh          compiles build/sanhu-client.jar
#   ./build.sh test     also compiles and runs the tests (sanhu.client.TestMain)
set -euo pipefail
cd "$(dirname "$0")"
rm -rf build
mkdir -p build/classes build/test-classes
javac --release 17 -Xlint:all,-serial -Werror -encoding UTF-8 -d build/classes $(find src/main/java -name '*.java')
jar --create --file build/sanhu-client.jar -C build/classes .
if [[ "${1:-}" == "test" ]]; then
  javac --release 17 -Xlint:all,-serial -Werror -encoding UTF-8 -cp build/classes -d build/test-classes $(find src/test/java -name '*.java')
  java -cp build/classes:build/test-classes sanhu.client.TestMain
fi
