package controllers

import swrv1 "github.com/imagesync/swr-sync-operator/api/v1alpha1"

// orgState is what the ImageOrganization reconciler knows of each ImageOrganization beyond its
// status (see objectState): besides what both reconcilers keep, the repository names its last
// complete listing of this generation selected, so that a generated ImageRepository edited or
// deleted by hand is put back without asking SWR.
type orgState struct {
	*objectState[struct{}, discoveredNames]
}

func newOrgState() orgState {
	return orgState{newObjectState[struct{}, discoveredNames]()}
}

// discoveredNames are the names one generation's last complete listing selected; ok is false
// until there is one.
type discoveredNames struct {
	names []string
	ok    bool
}

// remember keeps the names a complete listing of org's generation calls for.
func (s orgState) remember(org *swrv1.ImageOrganization, names []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recordLocked(org).ofGeneration = discoveredNames{names: names, ok: true}
}

// remembered returns the names of org's last complete listing of this generation.
func (s orgState) remembered(org *swrv1.ImageOrganization) ([]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.recordLocked(org).ofGeneration
	return d.names, d.ok
}
