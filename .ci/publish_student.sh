#!/usr/bin/env bash
# Publish the student notebooks (no solutions) as the branch `student` of the remote `origin`:
# the student edition's Colab links open notebooks/<chapter>.ipynb on that branch.
#
#   bash .ci/publish_student.sh [NOTEBOOK_DIR]     # default: _build/student-notebooks
#
# The branch holds one commit, with no parent and only notebooks/, replaced (force-pushed) on
# every publish. The commit is made with git's plumbing in a temporary worktree, so neither the
# checkout nor its branches change. Needs git's user.name and user.email (the workflow sets them).
set -euo pipefail

src=${1:-_build/student-notebooks}
[[ -d "$src" ]] || { echo "publish_student: $src is not a folder (run make student-notebooks first)" >&2; exit 1; }
src=$(cd "$src" && pwd)
shopt -s nullglob
files=("$src"/*.ipynb)
(( ${#files[@]} )) || { echo "publish_student: no .ipynb in $src (run make student-notebooks first)" >&2; exit 1; }
source_sha=${GITHUB_SHA:-$(git rev-parse HEAD)}

tree=$(mktemp -d)
cleanup() { git worktree remove --force "$tree" >/dev/null 2>&1 || rm -rf "$tree"; }
trap cleanup EXIT
git worktree add --quiet --detach "$tree"
cd "$tree"
git rm -rfq --ignore-unmatch .
mkdir notebooks
cp "${files[@]}" notebooks/
git add notebooks
commit=$(git commit-tree "$(git write-tree)" -m "Student notebooks (no solutions) of $source_sha")
git push --quiet --force origin "$commit:refs/heads/student"
echo "==> ${#files[@]} student notebooks pushed to origin/student ($commit)"
