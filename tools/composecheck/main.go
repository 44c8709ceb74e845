// composecheck loads a Compose file with compose-go, the loader and schema validation behind
// `docker compose config`, and prints the resolved project. It lets the tests validate
// docker-compose.elk.yml on machines without the Docker Compose plugin.
//
// Usage: composecheck FILE WORKDIR (exit 1 and one line when the file is invalid).
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: composecheck FILE WORKDIR")
		os.Exit(2)
	}
	options, err := cli.NewProjectOptions(
		[]string{os.Args[1]}, cli.WithWorkingDirectory(os.Args[2]), cli.WithOsEnv,
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "invalid:", err)
		os.Exit(1)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "invalid:", err)
		os.Exit(1)
	}
	resolved, err := project.MarshalYAML()
	if err != nil {
		fmt.Fprintln(os.Stderr, "invalid:", err)
		os.Exit(1)
	}
	fmt.Print(string(resolved))
}
