"""An Elasticsearch home that can run x-pack security's native realm and API keys.

The integ-test-zip (the only Elasticsearch distribution on Maven Central) lacks the
analysis-common module, and the ``.security`` index, where native users and API keys live,
declares an ``email`` analyzer built from three of its components (``uax_url_email``,
``pattern_capture``, ``unique``): without them every user or API key request fails with
"Unknown filter type [pattern_capture]". This module compiles a small plugin that registers those
three from the Lucene classes the zip already ships, and puts it into a hard-linked copy of the
home (``<cache>/elasticsearch-<version>-secure``), leaving the plain home untouched. Made once per
cache, atomically (concurrent `up`s), in about two seconds.

``unique`` keeps only the first of equal tokens at one position (Lucene's
RemoveDuplicatesTokenFilter); analysis-common's removes them across the stream. The only
field using it is the ``.security`` index's user e-mail, which nothing here searches.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from shipper.errors import ServiceStartError
from shipper.stack.java import JavaRuntime

__all__ = ["PLUGIN_NAME", "secure_elasticsearch_home"]

PLUGIN_NAME = "logferry-analysis"
_COMPLETE = ".complete"

_SOURCE = """\
package org.logferry.analysis;

import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.email.UAX29URLEmailTokenizer;
import org.apache.lucene.analysis.miscellaneous.RemoveDuplicatesTokenFilter;
import org.apache.lucene.analysis.pattern.PatternCaptureGroupTokenFilter;
import org.elasticsearch.index.analysis.TokenFilterFactory;
import org.elasticsearch.index.analysis.TokenizerFactory;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;

public class LogferryAnalysisPlugin extends Plugin implements AnalysisPlugin {
    @Override
    public Map<String, AnalysisProvider<TokenFilterFactory>> getTokenFilters() {
        return Map.of(
            "pattern_capture", (indexSettings, environment, name, settings) -> {
                List<String> sources = settings.getAsList("patterns");
                Pattern[] patterns = sources.stream().map(Pattern::compile).toArray(Pattern[]::new);
                boolean preserve = settings.getAsBoolean("preserve_original", true);
                return new TokenFilterFactory() {
                    public String name() { return name; }
                    public TokenStream create(TokenStream input) {
                        return new PatternCaptureGroupTokenFilter(input, preserve, patterns);
                    }
                };
            },
            "unique", (indexSettings, environment, name, settings) -> new TokenFilterFactory() {
                public String name() { return name; }
                public TokenStream create(TokenStream input) {
                    return new RemoveDuplicatesTokenFilter(input);
                }
            }
        );
    }

    @Override
    public Map<String, AnalysisProvider<TokenizerFactory>> getTokenizers() {
        return Map.of(
            "uax_url_email", (indexSettings, environment, name, settings) ->
                TokenizerFactory.newFactory(name, UAX29URLEmailTokenizer::new)
        );
    }
}
"""


def _descriptor(version: str, java_major: int) -> str:
    return (
        "description=uax_url_email, pattern_capture and unique for the .security index\n"
        f"version={version}\nname={PLUGIN_NAME}\n"
        "classname=org.logferry.analysis.LogferryAnalysisPlugin\n"
        f"java.version={min(java_major, 17)}\nelasticsearch.version={version}\n"
    )


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # another filesystem
        shutil.copy2(source, target)


def secure_elasticsearch_home(home: Path, version: str, java: JavaRuntime) -> Path:
    """*home* plus the analysis plugin, made on first use; its path."""
    target = home.parent / f"{home.name}-secure"
    if (target / _COMPLETE).exists():
        return target
    javac = java.home / "bin" / "javac"
    if not javac.exists():
        raise ServiceStartError(
            f"elasticsearch --secure: {javac} is missing (a JDK is needed to build a small plugin). "
            "Fix: apt-get install openjdk-17-jdk-headless"
        )
    with tempfile.TemporaryDirectory(dir=home.parent, prefix=".secure-home-") as scratch:
        staging = Path(scratch) / "home"
        shutil.copytree(home, staging, copy_function=_link_or_copy, symlinks=True)
        source = Path(scratch) / "src" / "LogferryAnalysisPlugin.java"
        source.parent.mkdir()
        source.write_text(_SOURCE)
        classes = Path(scratch) / "classes"
        result = subprocess.run(
            [str(javac), "-nowarn", "-d", str(classes), "-cp", f"{home / 'lib'}/*", str(source)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            raise ServiceStartError(
                f"elasticsearch --secure: compiling the analysis plugin failed: {result.stderr[-2000:]}"
            )
        plugin = staging / "plugins" / PLUGIN_NAME
        plugin.mkdir(parents=True)
        with zipfile.ZipFile(plugin / f"{PLUGIN_NAME}.jar", "w") as jar:
            for path in sorted(classes.rglob("*.class")):
                jar.write(path, path.relative_to(classes).as_posix())
        (plugin / "plugin-descriptor.properties").write_text(_descriptor(version, java.major))
        (staging / _COMPLETE).touch()
        try:
            staging.rename(target)
        except OSError:  # a concurrent `up` made it first
            if not (target / _COMPLETE).exists():
                raise
    return target
