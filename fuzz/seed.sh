#!/bin/sh
# Seeds the fuzz corpora from the repository's own inputs: the shipped scenarios and profiles
# and the bad-input catalogue. Run from fuzz/: `./seed.sh`.
set -eu
mkdir -p corpus/scenario corpus/profile
cp ../scenarios/*.yaml ../tests/fixtures/invalid/*.yaml corpus/scenario/
cp ../profiles/*.yaml ../tests/fixtures/invalid-profiles/*.yaml corpus/profile/
echo "seeded: $(ls corpus/scenario | wc -l) scenarios, $(ls corpus/profile | wc -l) profiles"
