package main

import (
	"fmt"
	"os"
)

func run(args []string) int {
	fmt.Fprintln(os.Stderr, "longtail: under construction")
	return 0
}
