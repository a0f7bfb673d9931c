package swr

import "testing"

func TestContentRangeTotal(t *testing.T) {
	tests := []struct {
		header string
		jobs   int
		want   int64
	}{
		{"0-10/42", 10, 42},
		{"0-0/0", 0, 0},
		{"40-2/42", 2, 42},
		{"0-9223372036854775807/9223372036854775807", 0, 9223372036854775807},
		{"", 0, -1},
		{"42", 0, -1},
		{"0-10", 10, -1},
		{"/42", 0, -1},
		{"0/42", 0, -1},
		{"-10/42", 0, -1},
		{"a-b/42", 0, -1},
		{"0-10/4 2", 0, -1},
		{"0-10/9223372036854775808", 0, -1},
		{"0-10/9", 10, -1},
	}
	for _, tt := range tests {
		if got := contentRangeTotal(tt.header, tt.jobs); got != tt.want {
			t.Errorf("contentRangeTotal(%q, %d) = %d, want %d", tt.header, tt.jobs, got, tt.want)
		}
	}
}

func TestSyncJobFilter(t *testing.T) {
	if got, want := syncJobFilter(25, 0), "limit::25|offset::0|order::desc"; got != want {
		t.Errorf("syncJobFilter(25, 0) = %q, want %q", got, want)
	}
}
