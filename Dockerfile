# syntax=docker/dockerfile:1
# TreeScout: one image for every process; the first argument selects it (deploy/image/entrypoint.sh):
#   docker run IMAGE capture|detection|fusion|mapwriter     a worker
#   docker run IMAGE console                                the console (cab screen and run maps, TREESCOUT__Console__*)
#   docker run IMAGE cli run status                         the treescout command
# Build and push: docs/operations.md ("Build and push the image"). Decisions: docs/adr/0052-container-image.md.

ARG DOTNET_SDK=mcr.microsoft.com/dotnet/sdk:10.0.401-noble
ARG DOTNET_ASPNET=mcr.microsoft.com/dotnet/aspnet:10.0.12-noble
# The detector's ONNX Runtime: Cpu on every tractor; Gpu, its CUDA build, for a node with an NVIDIA GPU:
#   --build-arg ORT_FLAVOUR=Gpu --build-arg RUNTIME_BASE=cuda-aspnet   (docs/adr/0064-detector-on-an-nvidia-gpu.md)
ARG ORT_FLAVOUR=Cpu
ARG RUNTIME_BASE=aspnet
ARG CUDA_RUNTIME=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

FROM ${DOTNET_SDK} AS build
ARG VERSION=0.1.0
ARG ORT_FLAVOUR
WORKDIR /src
# Restore first, from the project files only, so a code change does not invalidate the package layer.
COPY global.json Directory.Build.props Directory.Packages.props TreeScout.sln ./
COPY src/TreeScout.Contracts/TreeScout.Contracts.csproj src/TreeScout.Contracts/
COPY src/TreeScout.Messaging/TreeScout.Messaging.csproj src/TreeScout.Messaging/
COPY src/TreeScout.Hosting/TreeScout.Hosting.csproj src/TreeScout.Hosting/
COPY src/TreeScout.Orchard/TreeScout.Orchard.csproj src/TreeScout.Orchard/
COPY src/TreeScout.Labelling/TreeScout.Labelling.csproj src/TreeScout.Labelling/
COPY src/TreeScout.Simulation/TreeScout.Simulation.csproj src/TreeScout.Simulation/
COPY src/TreeScout.Capture/TreeScout.Capture.csproj src/TreeScout.Capture/
COPY src/TreeScout.Detection/TreeScout.Detection.csproj src/TreeScout.Detection/
COPY src/TreeScout.Fusion/TreeScout.Fusion.csproj src/TreeScout.Fusion/
COPY src/TreeScout.MapWriter/TreeScout.MapWriter.csproj src/TreeScout.MapWriter/
COPY src/TreeScout.RunControl/TreeScout.RunControl.csproj src/TreeScout.RunControl/
COPY src/TreeScout.Console/TreeScout.Console.csproj src/TreeScout.Console/
COPY src/TreeScout.Central/TreeScout.Central.csproj src/TreeScout.Central/
COPY src/TreeScout.Cli/TreeScout.Cli.csproj src/TreeScout.Cli/
# The console's map library comes from npm (pinned by its package-lock.json), installed at build time: no CDN.
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*
COPY src/TreeScout.Console/package.json src/TreeScout.Console/package-lock.json src/TreeScout.Console/
RUN cd src/TreeScout.Console && npm ci --no-audit --no-fund
RUN dotnet restore src/TreeScout.Cli/TreeScout.Cli.csproj -r linux-x64 -p:OnnxRuntimeFlavour=${ORT_FLAVOUR}
COPY src/ src/
COPY deploy/image/ deploy/image/
RUN ORT_FLAVOUR=${ORT_FLAVOUR} sh deploy/image/publish.sh /out/app "${VERSION}"

FROM ${DOTNET_ASPNET} AS aspnet

# The GPU flavour's base: the .NET image's runtime, user and settings on NVIDIA's CUDA 12 + cuDNN 9 runtime image
# (Ubuntu noble, as the .NET image), the libraries ONNX Runtime's CUDA provider loads.
FROM ${CUDA_RUNTIME} AS cuda-aspnet
COPY --from=aspnet /usr/share/dotnet /usr/share/dotnet
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libicu74 libssl3t64 tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && ln -s /usr/share/dotnet/dotnet /usr/bin/dotnet \
 && groupadd --gid 1654 app && useradd --uid 1654 --gid 1654 --no-create-home app
ENV APP_UID=1654 \
    ASPNETCORE_HTTP_PORTS=8080 \
    DOTNET_RUNNING_IN_CONTAINER=true

FROM ${RUNTIME_BASE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="treescout" \
      org.opencontainers.image.description="TreeScout orchard blossom scanner: capture, detection, fusion and map-writer workers and the treescout CLI" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="https://github.com/treescout/treescout"
# Exactly the libraries libOpenCvSharpExtern.so links against that the .NET image lacks (readelf NEEDED; checked by
# tests/TreeScout.Deploy.Tests). libonnxruntime.so needs only glibc and libstdc++, which the base image has.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libatk1.0-0t64 \
      libatomic1 \
      libcairo-gobject2 \
      libcairo2 \
      libdrm2 \
      libfreetype6 \
      libgdk-pixbuf-2.0-0 \
      libglib2.0-0t64 \
      libgtk-3-0t64 \
      libharfbuzz0b \
      libpango-1.0-0 \
      libpangocairo-1.0-0 \
      libx11-6 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /out/app/ /app/
# The models with their cards (the Detection worker checks each file's sha256 against its card at start), reachable
# as models/ from the detection and CLI folders; and the bundled sample recordings the dev overlay replays.
COPY models/ /app/models/
COPY samples/ /app/samples/
RUN ln -s ../models /app/detection/models && ln -s ../models /app/cli/models
COPY deploy/image/entrypoint.sh /usr/local/bin/treescout-entrypoint
ENV TREESCOUT__Health__Port=8080 \
    TREESCOUT__Health__BindAddress=0.0.0.0 \
    TREESCOUT__Logging__Format=json \
    DOTNET_gcServer=0 \
    TREESCOUT_VERSION=${VERSION}
EXPOSE 8080
# The base image's non-root user `app` (APP_UID 1654), numeric so Kubernetes can verify runAsNonRoot.
USER 1654:1654
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["/app/cli/treescout", "health", "--url", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/usr/local/bin/treescout-entrypoint"]
CMD ["cli", "--help"]
