package controllers

// The manager's RBAC, generated into config/rbac/role.yaml and the chart by controller-gen from
// the markers below: least privilege, every verb is used and no other. The Lease for leader
// election and the metrics endpoint's reviews are granted in config/rbac by hand, because they
// belong to the manager, not to a reconciler.
//
// The ImageRepository reconciler reads its objects, writes their status, and owns the
// SyncRepoTasks: creates them, puts back hand edits of their labels and owners (patch), writes
// their status (an update after a create, an absolute patch otherwise) and deletes the ones SWR
// no longer lists. imagerepositories/finalizers "update" is what the
// OwnerReferencesPermissionEnforcement admission plugin (on by default in OpenShift) demands of
// whoever sets blockOwnerDeletion on an ownerReference to an ImageRepository, as every
// SyncRepoTask has.
// +kubebuilder:rbac:groups=swr.imagesync.io,resources=imagerepositories,verbs=get;list;watch
// +kubebuilder:rbac:groups=swr.imagesync.io,resources=imagerepositories/status,verbs=get;patch
// +kubebuilder:rbac:groups=swr.imagesync.io,resources=imagerepositories/finalizers,verbs=update
// +kubebuilder:rbac:groups=swr.imagesync.io,resources=syncrepotasks,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=swr.imagesync.io,resources=syncrepotasks/status,verbs=get;update;patch
//
// The ImageOrganization reconciler reads its objects, writes their status, and owns the
// ImageRepositories it generates: writes them by server-side apply, a patch that also creates
// (which the apiserver authorizes as create when the object does not exist yet), and deletes the
// ones whose repository is gone; the finalizers rule is the same admission plugin's.
// +kubebuilder:rbac:groups=swr.imagesync.io,resources=imageorganizations,verbs=get;list;watch
// +kubebuilder:rbac:groups=swr.imagesync.io,resources=imageorganizations/status,verbs=get;patch
// +kubebuilder:rbac:groups=swr.imagesync.io,resources=imageorganizations/finalizers,verbs=update
// +kubebuilder:rbac:groups=swr.imagesync.io,resources=imagerepositories,verbs=create;patch;delete
//
// Both read the Secrets their objects reference (get, and list and watch for the informer of
// their metadata) and record events.
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
