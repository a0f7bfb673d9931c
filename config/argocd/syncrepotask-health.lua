-- Argo CD health check for swr.imagesync.io/v1alpha1 SyncRepoTask.
--
-- A SyncRepoTask is observed state: the operator writes the SWR policy into it as SWR returned it,
-- and problems with polling show on the owning ImageRepository. Its health is that of the
-- policy's replication, from the condition Replicated the operator sets from SWR's sync jobs:
--   Replicated=False (reason SyncFailed)        -> Degraded: the newest job of a tag to this
--                                                  policy's target failed, timed out or was cancelled
--   Replicated=Unknown, reason SyncInProgress   -> Progressing: the newest job is waiting or running
--   anything else                               -> Healthy, naming the policy: Replicated=True,
--                                                  NoSyncJobs, or no condition (spec.syncJobs.mode
--                                                  Ignore, or not polled yet)
-- Argo CD runs health scripts without the string library, so the script uses only the base and
-- table libraries. Keep it identical to the copy in argocd-cm-patch.yaml (a test checks).
local hs = {}

-- messageOf prefers a condition's message and falls back to its reason, so that Argo CD never
-- shows an empty message.
local function messageOf(condition, fallback)
  if condition.message ~= nil and condition.message ~= "" then
    return condition.message
  end
  if condition.reason ~= nil and condition.reason ~= "" then
    return condition.reason
  end
  return fallback
end

local replicated = nil
if obj.status ~= nil and obj.status.conditions ~= nil then
  for _, condition in ipairs(obj.status.conditions) do
    if condition.type == "Replicated" then
      replicated = condition
    end
  end
end

if replicated ~= nil and replicated.status == "False" then
  hs.status = "Degraded"
  hs.message = messageOf(replicated, "SyncFailed")
  return hs
end

if replicated ~= nil and replicated.status == "Unknown" and replicated.reason == "SyncInProgress" then
  hs.status = "Progressing"
  hs.message = messageOf(replicated, "SyncInProgress")
  return hs
end

hs.status = "Healthy"
if obj.status ~= nil and obj.status.id ~= nil then
  hs.message = "mirrors SWR policy " .. obj.status.id
else
  hs.message = "mirrors an SWR policy"
end
return hs
