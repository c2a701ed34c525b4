// Command longtail trains image classifiers on long-tailed data.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:]))
}
