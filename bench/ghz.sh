#!/bin/sh
# GetArticle under ghz, against the no-op server and the real one in the
# same run (bench/ghz_test.go). Installs the pinned ghz first.
set -eu
GHZ_VERSION=v0.120.0
go install "github.com/bojand/ghz/cmd/ghz@${GHZ_VERSION}"
cd "$(dirname "$0")/.."
exec go test ./bench -run "^$" -bench "GetArticleGhz" -benchtime 1x "$@"
