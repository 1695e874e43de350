#!/usr/bin/env bash
# Vendor the JavaScript the built book needs, so its pages render with no network:
# MathJax 3 (math), require.js and the ipywidgets HTML manager (widgets), reveal.js (slides).
# Fetched once from the npm registry into _vendor/ (git-ignored); html_static_path copies it into
# _build/html/_static/. Versions are pinned here; npm checks each tarball against the registry's integrity hash.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=_vendor
STAMP="$DEST/.stamp-v3"
[ -f "$STAMP" ] && exit 0
command -v npm >/dev/null || { echo "vendor: npm is needed to fetch MathJax and the widget manager (apt-get install npm)" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
( cd "$WORK" && npm pack --silent mathjax@3.2.2 requirejs@2.3.8 @jupyter-widgets/html-manager@1.0.15 reveal.js@4.6.1 >/dev/null 2>&1 )
rm -rf "$DEST" && mkdir -p "$DEST/mathjax" "$DEST/widgets" "$DEST/reveal.js/plugin"
for pkg in mathjax-3.2.2 requirejs-2.3.8 jupyter-widgets-html-manager-1.0.15 reveal.js-4.6.1; do
  mkdir -p "$WORK/$pkg" && tar xzf "$WORK/$pkg.tgz" -C "$WORK/$pkg"
done
# MathJax: the tex-chtml component plus what it loads on demand (fonts, extensions, menu, a11y).
MJ="$WORK/mathjax-3.2.2/package/es5"
cp "$MJ/tex-chtml.js" "$DEST/mathjax/"
cp -r "$MJ/input" "$MJ/output" "$MJ/ui" "$MJ/a11y" "$MJ/adaptors" "$DEST/mathjax/"
rm -rf "$DEST/mathjax/output/svg" "$DEST/mathjax/output/svg.js"
cp "$WORK/mathjax-3.2.2/package/LICENSE" "$DEST/mathjax/LICENSE"
# Widgets: require.js and the self-contained AMD embed bundle with its font files.
cp "$WORK/requirejs-2.3.8/package/require.js" "$DEST/widgets/require.min.js"
HM="$WORK/jupyter-widgets-html-manager-1.0.15/package/dist"
cp "$HM/embed-amd.js" "$DEST/widgets/"
# The manager fetches its fonts next to its AMD module URL (see book/_js/attnlab-widgets.js).
FONTS="$DEST/widgets/@jupyter-widgets/html-manager/dist"
mkdir -p "$FONTS"
find "$HM" -maxdepth 1 -type f ! -name '*.js' ! -name '*.map' -exec cp {} "$FONTS/" \;
# Slides: reveal.js (the white theme, whose fonts are local) and its speaker-notes plugin.
RV="$WORK/reveal.js-4.6.1/package"
cp -r "$RV/dist" "$DEST/reveal.js/"
rm -f "$DEST"/reveal.js/dist/*.map
cp -r "$RV/plugin/notes" "$DEST/reveal.js/plugin/"
cp "$RV/LICENSE" "$DEST/reveal.js/LICENSE"
touch "$STAMP"
echo "vendor: MathJax $(du -sh "$DEST/mathjax" | cut -f1), widgets $(du -sh "$DEST/widgets" | cut -f1) in $DEST/"
