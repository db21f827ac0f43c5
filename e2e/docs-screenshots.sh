#!/usr/bin/env bash
# Refreshes the screenshots the README shows (docs/screenshots/) from the screenshot test: runs
# it into a temporary directory and copies the chosen ones (phone shots scaled to 1x when
# ImageMagick's `convert` is there, to keep the repository small). Same variables as run.sh.
#
#   CHATROULETTE_BIN=target/debug/chatroulette bash e2e/docs-screenshots.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/../docs/screenshots"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
ARTIFACTS_DIR="$tmp" bash "$here/run.sh" tests/screenshots.test.mjs
mkdir -p "$out"
for name in \
  landing-desktop-light landing-desktop-dark landing-mobile-light landing-mobile-dark \
  chat-desktop-light chat-desktop-dark chat-mobile-light chat-mobile-dark chat-members-open-mobile-light \
  chat-locked-desktop-light chat-locked-mobile-dark \
  roulette-waiting-desktop-dark roulette-waiting-mobile-light roulette-ended-desktop-light \
  conversation-desktop-light conversation-menu-desktop-dark conversation-mobile-dark conversation-menu-mobile-light; do
  src="$tmp/screenshots/$name.png"
  if [[ $name == *mobile* ]] && convert -version 2>/dev/null | grep -q '^Version: ImageMagick'; then
    convert "$src" -resize 50% -strip "$out/$name.png"
  else
    cp "$src" "$out/$name.png"
  fi
done
echo "docs-screenshots: $(ls "$out" | wc -l) files in $out"
