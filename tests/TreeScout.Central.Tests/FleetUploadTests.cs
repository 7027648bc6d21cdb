using TreeScout.Contracts;

namespace TreeScout.Central.Tests;

/// <summary>The load test's fleet generator and its lag bookkeeping (bench/TreeScout.Central.Bench), without a broker.</summary>
[Trait("Category", "Unit")]
public sealed class FleetUploadTests
{
    [Fact]
    public void A_tractors_upload_holds_each_run_in_uplink_order_with_copies_that_repeat_an_earlier_batch()
    {
        var upload = FleetUpload.Tractor("t-007", runs: 2, trees: 6, duplicateEvery: 3, seed: 11);

        var runIds = upload.Select(m => m.Message.RunId).Distinct().ToList();
        Assert.Equal(["20260421-090000-block-1-", "20260421-094000-block-2-"], runIds.Select(r => r[..24]));
        Assert.All(runIds, r => Assert.True(RunIds.IsValid(r), r));
        Assert.All(upload, m => Assert.Equal("t-007", m.Tractor));
        foreach (var run in runIds)
        {
            var types = upload.Where(m => m.Message.RunId == run).Select(m => m.Message.GetType().Name).ToList();
            Assert.Equal("RunStarted", types[0]);
            Assert.Equal(["RunStopped", "RunFused", "MapUpdated"], types[^3..]);
            var batches = upload.Where(m => m.Message.RunId == run && m.Message is TreeObservations).ToList();
            var originals = batches.Where(m => !m.Copy).ToList();
            // A copy of batch b-1 follows batch b for every b divisible by 3 (b counted from 0).
            Assert.Equal(Enumerable.Range(1, originals.Count - 1).Count(b => b % 3 == 0), batches.Count(m => m.Copy));
            for (var i = 0; i < batches.Count; i++)
            {
                if (batches[i].Copy)
                {
                    Assert.Same(batches[i - 2].Message, batches[i].Message);
                }
            }
            var observations = originals.SelectMany(m => ((TreeObservations)m.Message).Observations).ToList();
            Assert.Equal(observations.Count, observations.Select(o => o.ObservationId).Distinct().Count());
            var map = Assert.IsType<MapUpdated>(upload.Last(m => m.Message.RunId == run).Message);
            Assert.True(map.Final);
            Assert.Equal(observations.Count, map.Observations);
            Assert.Equal(6, map.Trees);
        }
        // Message ids are unique except for the copies, and no two runs share an observation id.
        Assert.Equal(upload.Count(m => !m.Copy), upload.Select(m => m.Message.MessageId).Distinct().Count());
        var all = upload.Where(m => !m.Copy).SelectMany(m => m.Message is TreeObservations o ? o.Observations : []).ToList();
        Assert.Equal(all.Count, all.Select(o => o.ObservationId).Distinct().Count());
    }

    [Fact]
    public void The_same_tractor_and_run_give_the_same_ids_and_other_tractors_other_run_ids()
    {
        var first = FleetUpload.Tractor("t-001", runs: 1, trees: 3, duplicateEvery: 5, seed: 1);
        var again = FleetUpload.Tractor("t-001", runs: 1, trees: 3, duplicateEvery: 5, seed: 1);
        var other = FleetUpload.Tractor("t-002", runs: 1, trees: 3, duplicateEvery: 5, seed: 1);

        Assert.Equal(first.Select(m => m.Message.MessageId), again.Select(m => m.Message.MessageId));
        Assert.NotEqual(first[0].Message.RunId, other[0].Message.RunId);
        Assert.Empty(first.Select(m => m.Message.MessageId).Intersect(other.Select(m => m.Message.MessageId)));
    }

    [Fact]
    public void Lag_is_the_oldest_unstored_messages_age_and_latencies_run_from_publish_to_the_poll_that_saw_it_stored()
    {
        var lag = new IngestLag(4);
        lag.Publishing(TimeSpan.FromSeconds(0), 10);
        lag.Publishing(TimeSpan.FromSeconds(1), 0);
        lag.Publishing(TimeSpan.FromSeconds(2), 30);
        Assert.Equal(TimeSpan.FromSeconds(5), lag.OldestWaiting(TimeSpan.FromSeconds(5)));
        Assert.Equal(TimeSpan.Zero, lag.Latency(50));

        lag.CommittedBy(TimeSpan.FromSeconds(4), 2);
        lag.CommittedBy(TimeSpan.FromSeconds(3), 1); // a stale poll never takes a count back
        Assert.Equal(2, lag.Committed);
        Assert.Equal(10, lag.ObservationsCommitted);
        Assert.Equal(TimeSpan.FromSeconds(4), lag.OldestWaiting(TimeSpan.FromSeconds(6)));

        lag.CommittedBy(TimeSpan.FromSeconds(9), 5); // more than was published counts what was
        Assert.Equal(3, lag.Committed);
        Assert.Equal(40, lag.ObservationsCommitted);
        Assert.Equal(TimeSpan.Zero, lag.OldestWaiting(TimeSpan.FromSeconds(10)));
        Assert.Equal(TimeSpan.FromSeconds(4), lag.Latency(50)); // latencies 4, 3, 7 s
        Assert.Equal(TimeSpan.FromSeconds(7), lag.Latency(99));
        Assert.Equal(TimeSpan.FromSeconds(3), lag.Latency(0));
    }
}
