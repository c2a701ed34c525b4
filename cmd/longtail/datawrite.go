package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/longtail-ml/longtail/pipeline"
	"github.com/longtail-ml/longtail/sampling/dataset"
)

type dataWriteCmd struct {
	app *app
	cf  configFlags
}

func newDataWriteCmd(a *app) *cobra.Command {
	c := &dataWriteCmd{app: a}
	cmd := &cobra.Command{
		Use:   "write DIR [-c CONFIG]",
		Short: "Write the config's data set, before the long tail, as an image folder",
		Long: `write loads the data the config's data section describes (the built-in synthetic
data without -c), without its long tail, and writes it as an image folder that
data.source folder reads: DIR/{train,test}/<NN>-<class>/*.png, the class folders
prefixed with the class index so that they keep the class order (the long
tail's head first). DIR must not exist; it appears whole or not at all. Use it
to try the folder pipeline, or to put small data on a volume for a container
or a cluster.`,
		Example: `  longtail data write /tmp/synthetic --set data.synthetic.train_per_class=100
  longtail train -c configs/quickstart.yaml --set data.source=folder --set data.path=/tmp/synthetic`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("%w: data write takes one directory; got %d arguments", errUsage, len(args))
			}
			return nil
		},
		RunE: c.run,
	}
	c.cf.register(cmd)
	return cmd
}

func (c *dataWriteCmd) run(cmd *cobra.Command, args []string) error {
	cfg, err := pipeline.Load(c.cf.sources(cmd, c.cf.file))
	if err != nil {
		return err
	}
	d := cfg.Data
	d.Imbalance = 1
	data, err := pipeline.LoadData(d, pipeline.NormalizeDataset)
	if err != nil {
		return err
	}
	if err := dataset.WriteImageFolder(args[0], data.Train, data.Test); err != nil {
		return err
	}
	fmt.Fprintf(c.app.stdout, "wrote %d training and %d test images of %d classes to %s (data.source folder)\n",
		data.Train.Len(), data.Test.Len(), len(data.Train.Classes), args[0])
	return nil
}
