package cli

import (
	"errors"
	iofs "io/fs"
)

func unwrapPath(err error) error {
	var pe *iofs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
