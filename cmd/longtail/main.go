// Command longtail trains image classifiers on long-tailed data; run
// `longtail --help` for its commands.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
