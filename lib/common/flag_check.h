// The one value check of a config field that names its flag as the user
// types it: RequireFlag(ok, "vae.network", "latent_dim", "must be in 1..1024")
// fails with Error(kUsage) "--vae.network.latent-dim must be in 1..1024".
#pragma once

#include <string>

namespace perpetua {

// Throws Error(kUsage) "<flag> <what>" unless `ok`; the flag is FlagName
// (common/cli.h) of "<prefix>.<name>" ("<name>" when prefix is empty).
void RequireFlag(bool ok, const std::string& prefix, const std::string& name, const std::string& what);

}  // namespace perpetua
