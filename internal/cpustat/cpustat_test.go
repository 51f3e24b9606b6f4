package cpustat

import "testing"

func TestReadTheMachine(t *testing.T) {
	c, ok := Read()
	if !ok || c.Total <= 0 || c.Busy < 0 || c.Busy > c.Total || c.Softirq > c.Busy {
		t.Errorf("Read = %+v (%v)", c, ok)
	}
}
