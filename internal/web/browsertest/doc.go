// Package browsertest drives the dashboard in a real browser (Debian's
// chromium, through chromedp): the page loads with no console error, the
// heatmap draws N × N cells and answers hover and click, the pair, node,
// events and agents views render, export works, and a 250 × 250 heatmap
// update is timed through the Performance API.
//
// The tests serve the page's files with a small fixture API whose JSON
// follows the contract in internal/web/README.md. They are heavy tests
// (testenv.Heavy) and skip when chromium is missing.
package browsertest
