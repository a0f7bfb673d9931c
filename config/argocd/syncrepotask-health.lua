-- Argo CD health check for swr.imagesync.io/v1alpha1 SyncRepoTask.
--
-- A SyncRepoTask is observed state: the operator writes the SWR policy into it as SWR returned it,
-- and problems with polling show on the owning ImageRepository. So a task is always Healthy; the
-- script exists so that Argo CD shows a health and names the policy instead of showing nothing.
-- Keep it identical to the copy in argocd-cm-patch.yaml (a test checks).
local hs = {}
hs.status = "Healthy"
if obj.status ~= nil and obj.status.id ~= nil then
  hs.message = "mirrors SWR policy " .. obj.status.id
else
  hs.message = "mirrors an SWR policy"
end
return hs
